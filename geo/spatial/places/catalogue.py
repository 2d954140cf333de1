"""The 6 categories / 48 items offered by the 109 候鸟服务区 (service zones).

The source names the categories tourism advice, errands and culture/leisure among six; the items
below are a plausible reading of "6大项48小项" for the demo, stable codes first.
"""

from __future__ import annotations

SERVICE_CATALOGUE: dict[str, tuple[str, list[str]]] = {
    "tourism": (
        "旅游咨询",
        [
            "景区导览",
            "旅游线路推荐",
            "森林康养咨询",
            "门票预约",
            "交通换乘指引",
            "天气与出行提示",
            "失物招领",
            "投诉受理",
        ],
    ),
    "errands": (
        "便民事项办理",
        [
            "居住登记",
            "医保异地备案",
            "社保认证",
            "代缴水电燃气",
            "快递代收",
            "证件复印打印",
            "政策咨询",
            "法律援助",
        ],
    ),
    "culture": (
        "文化休闲",
        [
            "书画",
            "编织",
            "古典舞",
            "蛋雕",
            "扎染",
            "合唱",
            "棋牌",
            "阅读角",
        ],
    ),
    "health": (
        "医疗健康",
        [
            "免费健康体检",
            "血压血糖测量",
            "家庭医生签约",
            "就医指引",
            "急救培训",
            "中医理疗",
            "心理疏导",
            "药品代购",
        ],
    ),
    "daily": (
        "生活服务",
        [
            "家政介绍",
            "维修服务",
            "助餐服务",
            "理发",
            "租房信息",
            "助浴",
            "代购代办",
            "志愿者帮扶",
        ],
    ),
    "participation": (
        "社区参与",
        [
            "候鸟议事会",
            "志愿服务报名",
            "活动空间预约",
            "意见征集",
            "兴趣社团",
            "邻里互助",
            "党员报到",
            "社区共建",
        ],
    ),
}


def all_items() -> list[str]:
    """Every item as 'category:item', the form stored on service areas."""
    return [f"{code}:{item}" for code, (_, items) in SERVICE_CATALOGUE.items() for item in items]
