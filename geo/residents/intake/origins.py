"""来源地 (where a seasonal resident comes from): free text to province and city.

Channels write origins as "广东省广州市", "广东广州", "广州" or "上海". Provinces are a closed list
(34 provincial-level divisions); cities are the prefecture-level cities people name most often,
enough to place a city-only origin in its province. Unknown text is kept as written, unparsed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Short name -> full name of every provincial-level division.
PROVINCES: dict[str, str] = {
    "北京": "北京市",
    "天津": "天津市",
    "上海": "上海市",
    "重庆": "重庆市",
    "河北": "河北省",
    "山西": "山西省",
    "辽宁": "辽宁省",
    "吉林": "吉林省",
    "黑龙江": "黑龙江省",
    "江苏": "江苏省",
    "浙江": "浙江省",
    "安徽": "安徽省",
    "福建": "福建省",
    "江西": "江西省",
    "山东": "山东省",
    "河南": "河南省",
    "湖北": "湖北省",
    "湖南": "湖南省",
    "广东": "广东省",
    "海南": "海南省",
    "四川": "四川省",
    "贵州": "贵州省",
    "云南": "云南省",
    "陕西": "陕西省",
    "甘肃": "甘肃省",
    "青海": "青海省",
    "台湾": "台湾省",
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
    "香港": "香港特别行政区",
    "澳门": "澳门特别行政区",
}
MUNICIPALITIES = {"北京", "天津", "上海", "重庆"}

# City (without 市) -> province short name.
CITIES: dict[str, str] = {
    "广州": "广东",
    "深圳": "广东",
    "佛山": "广东",
    "东莞": "广东",
    "珠海": "广东",
    "中山": "广东",
    "汕头": "广东",
    "惠州": "广东",
    "江门": "广东",
    "湛江": "广东",
    "南京": "江苏",
    "苏州": "江苏",
    "无锡": "江苏",
    "常州": "江苏",
    "南通": "江苏",
    "徐州": "江苏",
    "扬州": "江苏",
    "杭州": "浙江",
    "宁波": "浙江",
    "温州": "浙江",
    "绍兴": "浙江",
    "嘉兴": "浙江",
    "台州": "浙江",
    "金华": "浙江",
    "合肥": "安徽",
    "芜湖": "安徽",
    "福州": "福建",
    "厦门": "福建",
    "泉州": "福建",
    "南昌": "江西",
    "赣州": "江西",
    "九江": "江西",
    "济南": "山东",
    "青岛": "山东",
    "烟台": "山东",
    "潍坊": "山东",
    "临沂": "山东",
    "郑州": "河南",
    "洛阳": "河南",
    "开封": "河南",
    "武汉": "湖北",
    "宜昌": "湖北",
    "襄阳": "湖北",
    "长沙": "湖南",
    "株洲": "湖南",
    "湘潭": "湖南",
    "衡阳": "湖南",
    "海口": "海南",
    "三亚": "海南",
    "成都": "四川",
    "绵阳": "四川",
    "贵阳": "贵州",
    "昆明": "云南",
    "西安": "陕西",
    "兰州": "甘肃",
    "西宁": "青海",
    "南宁": "广西",
    "桂林": "广西",
    "柳州": "广西",
    "北海": "广西",
    "石家庄": "河北",
    "唐山": "河北",
    "保定": "河北",
    "太原": "山西",
    "沈阳": "辽宁",
    "大连": "辽宁",
    "鞍山": "辽宁",
    "长春": "吉林",
    "吉林": "吉林",
    "哈尔滨": "黑龙江",
    "大庆": "黑龙江",
    "齐齐哈尔": "黑龙江",
    "牡丹江": "黑龙江",
    "佳木斯": "黑龙江",
    "呼和浩特": "内蒙古",
    "包头": "内蒙古",
    "银川": "宁夏",
    "乌鲁木齐": "新疆",
    "拉萨": "西藏",
}


@dataclass(frozen=True)
class Origin:
    text: str
    province: str | None  # full name, e.g. 广东省
    city: str | None  # full name, e.g. 广州市


def parse_origin(raw: str | None) -> Origin | None:
    """Split an origin into province and city; None when nothing is given.

    >>> parse_origin("广东广州")
    Origin(text='广东广州', province='广东省', city='广州市')
    >>> parse_origin("上海市")
    Origin(text='上海市', province='上海市', city='上海市')
    >>> parse_origin("深圳").province
    '广东省'
    """
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(" ", "")
    if not text:
        return None
    rest, province = text, None
    for short, full in sorted(PROVINCES.items(), key=lambda kv: -len(kv[0])):
        if rest.startswith(full) or rest.startswith(short):
            province = short
            rest = rest[len(full) :] if rest.startswith(full) else rest[len(short) :]
            break
    city = None
    if province in MUNICIPALITIES:
        city = province
    else:
        for name in sorted(CITIES, key=len, reverse=True):
            if rest.startswith(name) and (province is None or CITIES[name] == province):
                city, province = name, CITIES[name]
                break
    return Origin(
        text=text,
        province=PROVINCES[province] if province else None,
        city=f"{city}市" if city else None,
    )
