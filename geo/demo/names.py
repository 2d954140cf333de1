"""Name pools for the synthetic Yichun demo. Real places are named where the source names them."""

from __future__ import annotations

# County seats (WGS84, approximate town centres); the synthetic urban core is built around them.
SEATS: dict[str, tuple[float, float]] = {
    "230717": (128.905, 47.728),  # 伊美区: the city government (伊春市人民政府)
    "230718": (128.660, 47.720),  # 乌翠区
    "230719": (128.820, 47.850),  # 友好区
    "230722": (130.400, 48.890),  # 嘉荫县 朝阳镇
    "230723": (129.570, 48.450),  # 汤旺县
    "230724": (129.530, 48.290),  # 丰林县
    "230725": (129.020, 47.030),  # 大箐山县
    "230726": (129.280, 47.140),  # 南岔县
    "230751": (129.300, 47.480),  # 金林区
    "230781": (128.030, 46.990),  # 铁力市
}

# Communities per district (columns x rows of communities; each community is 3 x 3 cells).
LAYOUT: dict[str, tuple[int, int]] = {
    "230717": (5, 4),
    "230718": (4, 3),
    "230719": (4, 3),
    "230722": (4, 3),
    "230723": (4, 3),
    "230724": (3, 3),
    "230725": (3, 3),
    "230726": (4, 3),
    "230751": (3, 3),
    "230781": (5, 4),
}

# 伊美区's streets: 红升街道 must exist (the source names it); the rest are plausible names.
STREET_NAMES: dict[str, list[str]] = {
    "230717": ["红升街道", "旭日街道", "前进街道", "朝阳街道", "东升街道", "跃进街道"],
}
GENERIC_STREETS = ["中心街道", "林城街道", "青山街道", "新兴街道", "友谊街道", "松江街道"]

COMMUNITY_NAMES = [
    "青山",
    "林海",
    "松涛",
    "白桦",
    "兴安",
    "红星",
    "朝阳",
    "新华",
    "建设",
    "光明",
    "育林",
    "翠峦",
    "金山",
    "碧水",
    "河西",
    "河东",
    "永安",
    "康宁",
    "北山",
    "南山",
    "春晖",
    "园林",
    "东风",
    "胜利",
]

COMPOUND_PREFIXES = [
    "林海",
    "松涛",
    "桦林",
    "兴安",
    "翠峰",
    "金山",
    "碧水",
    "阳光",
    "幸福",
    "和谐",
    "锦绣",
    "福苑",
    "康乐",
    "望江",
    "青松",
    "丽景",
    "瑞祥",
    "鑫源",
    "泰和",
    "新城",
]
COMPOUND_SUFFIXES = ["小区", "家园", "花园", "苑", "嘉园", "新村", "公寓", "名苑", "雅居", "华庭"]
COMPOUND_PHASES = ["", "二期", "三期"]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文海波春燕凤"
