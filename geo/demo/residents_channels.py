"""How each of the six channels reports a person in the demo, noise included."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from geo.demo import residents_pools as pools
from geo.residents.intake.persons import ADDRESS_FORMS
from geo.spatial.crs import Crs

if TYPE_CHECKING:
    from geo.demo.residents import Person, Stay, _Generator

Fields = dict[str, Any]  # a report's fields, as the intake API takes them

_FORMS_M = [f for f, s in ADDRESS_FORMS if s == "M" and f in ("先生", "大爷", "叔叔")]
_FORMS_F = [f for f, s in ADDRESS_FORMS if s == "F" and f in ("女士", "阿姨", "大妈")]


def fields_for(
    g: _Generator, channel: str, p: Person, s: Stay, day: date, departure: bool
) -> tuple[Fields, str]:
    """The report's fields (English keys, as the intake API takes them) and its crs."""
    return _CHANNELS[channel](g, p, s, day, departure)


def _r(g: _Generator) -> float:
    return float(g.rng.random())


def _name(g: _Generator, p: Person, typo: float = 0.04) -> str:
    name = p.name
    if _r(g) < typo:
        i = int(g.rng.integers(0, len(name)))
        table = pools.HOMOPHONES if _r(g) < 0.8 else pools.LOOKALIKES
        if name[i] in table:
            name = name[:i] + table[name[i]] + name[i + 1 :]
    return name


def _partial_name(g: _Generator, p: Person) -> str:
    surname = p.name[:2] if p.name[:2] in ("欧阳", "司马") else p.name[0]
    return surname + g.pick(_FORMS_M if p.sex == "M" else _FORMS_F)


def _phone(g: _Generator, p: Person, s: Stay, masked: float = 0.0) -> str:
    phone = s.shared_phone or p.phone
    if _r(g) < masked:  # the platform shows the rider or courier a masked number
        return f"{phone[:3]}****{phone[7:]}"
    if _r(g) < 0.1:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    return phone


def _id_number(g: _Generator, p: Person, masked: float = 0.0) -> str:
    number = p.id_number
    if _r(g) < masked:  # a ticket or order that prints the number masked
        keep = 4 if _r(g) < 0.5 else 6
        return number[:keep] + "*" * (14 - keep) + number[-4:]
    if _r(g) < 0.006:  # one digit misread: the check digit no longer fits
        i = int(g.rng.integers(6, 17))
        number = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1 :]
    return number.lower() if number.endswith("X") and _r(g) < 0.3 else number


def _origin(g: _Generator, p: Person) -> str:
    province, city, _ = p.origin
    short_p = province.replace("省", "").replace("壮族自治区", "").replace("市", "")
    short_c = city.removesuffix("市")
    if province == city:
        return g.pick([province, short_p])
    return g.pick([province + city, short_p + short_c, short_c, city])


def _cn(n: int) -> str:
    if n <= 10:
        return pools.CN_NUMERALS[n]
    return (
        ("" if n < 20 else pools.CN_NUMERALS[n // 10])
        + "十"
        + (pools.CN_NUMERALS[n % 10] if n % 10 else "")
    )


def _address(g: _Generator, s: Stay, style: str | None = None) -> str:
    h = s.home
    style = style or g.pick(["full", "district", "district", "shorthand", "chinese", "old"])
    room = f"{h.building}号楼{s.unit}单元{s.room}室"
    if style == "full":
        return f"伊春市{h.district}{h.street}{h.community}{h.compound}{room}"
    if style == "district":
        return f"{h.district}{h.compound}{h.building}栋{s.unit}单元{s.room}"
    if style == "shorthand":
        return f"{h.district} {h.compound} {h.building}-{s.unit}-{s.room}"
    if style == "chinese":
        building = f"{_cn(h.building)}号楼{_cn(s.unit)}单元"
        return f"{h.district}{h.community}{h.compound}{building}{s.room}"
    if style == "old":
        district = pools.FORMER_NAME.get(h.district, h.district)
        wide = str(h.building).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        return f"{district}{h.compound}{wide}号楼{s.unit}单元{s.room}"
    if style == "compound":
        return f"{h.district}{h.compound}"
    raise ValueError(style)


def _point(g: _Generator, s: Stay, crs: Crs, metres: float) -> tuple[float, float]:
    lon, lat = g.jitter(s.home.lon, s.home.lat, metres)
    return g.point_in(crs, lon, lat)


def _birth(g: _Generator, p: Person, day: date, exact: float, rough: bool = False) -> Fields:
    if _r(g) < exact:
        return {"birth_year": p.birth.year}
    age = day.year - p.birth.year - ((day.month, day.day) < (p.birth.month, p.birth.day))
    if rough:
        age = int(round((age + int(g.rng.integers(-2, 3))) / 5) * 5) if _r(g) < 0.5 else age
    return {"age": age}


def _common(s: Stay) -> Fields:
    return {"housing_type": pools.HOUSING_ZH[s.housing], "household_size": len(s.household)}


def grid_worker(
    g: _Generator, p: Person, s: Stay, day: date, departure: bool
) -> tuple[Fields, str]:
    f: Fields = {"name": _name(g, p, 0.02), "sex": "男" if p.sex == "M" else "女"}
    if departure:
        f |= {"phone": _phone(g, p, s), "address": _address(g, s), "departed_on": s.departed}
        return f, "wgs84"
    if _r(g) < 0.45:
        f["id_number"] = _id_number(g, p)
    if _r(g) < 0.85:
        f["phone"] = _phone(g, p, s)
    f |= _birth(g, p, day, 0.75)
    if _r(g) < 0.9:
        f["origin"] = _origin(g, p)
    if _r(g) < 0.7:
        f["occupation"] = p.occupation
    if p.tags and _r(g) < 0.5:
        f["tags"] = p.tags
    f["address"] = _address(g, s, "full" if _r(g) < 0.6 else None)
    if _r(g) < 0.7:
        f["lon"], f["lat"] = _point(g, s, Crs.wgs84, 8)
    f["arrived_on"] = s.arrived
    if _r(g) < 0.8:
        f["expected_departure"] = s.expected
    return f | _common(s), "wgs84"


def police(g: _Generator, p: Person, s: Stay, day: date, departure: bool) -> tuple[Fields, str]:
    f: Fields = {"name": _name(g, p, 0.005), "id_number": _id_number(g, p)}
    if _r(g) < 0.5:
        f["phone"] = _phone(g, p, s)
    f["address"] = _address(g, s, "full")
    crs = "cgcs2000"
    if _r(g) < 0.3:
        f["lon"], f["lat"] = _point(g, s, Crs.cgcs2000, 10)
    f["arrived_on"] = s.arrived
    if _r(g) < 0.5:
        f["expected_departure"] = s.expected
    return f | _common(s), crs


def courier(g: _Generator, p: Person, s: Stay, day: date, departure: bool) -> tuple[Fields, str]:
    f: Fields = {
        "name": _partial_name(g, p) if _r(g) < 0.7 else _name(g, p, 0.05),
        "phone": _phone(g, p, s, masked=0.2),
        "address": _address(g, s, g.pick(["full", "district", "district", "shorthand", "old"])),
    }
    if _r(g) < 0.3:
        f["lon"], f["lat"] = _point(g, s, Crs.gcj02, 15)
    return f, "gcj02"


def rider(g: _Generator, p: Person, s: Stay, day: date, departure: bool) -> tuple[Fields, str]:
    f: Fields = {"name": _partial_name(g, p) if _r(g) < 0.85 else _name(g, p, 0.05)}
    if _r(g) < 0.9:
        f["phone"] = _phone(g, p, s, masked=0.3)
    f["lon"], f["lat"] = _point(g, s, Crs.gcj02, 20)
    if _r(g) < 0.4:
        f["address"] = _address(g, s, "district")
    return f, "gcj02"


def merchant(g: _Generator, p: Person, s: Stay, day: date, departure: bool) -> tuple[Fields, str]:
    f: Fields = {"name": _name(g, p, 0.08), "sex": "男" if p.sex == "M" else "女"}
    f |= _birth(g, p, day, 0.1, rough=True)
    if _r(g) < 0.6:
        f["origin"] = _origin(g, p)
    if _r(g) < 0.35:
        f["phone"] = _phone(g, p, s)
    if _r(g) < 0.5:
        f["address"] = _address(g, s, "district")
    else:
        f["lon"], f["lat"] = _point(g, s, Crs.bd09, 25)
    return f, "bd09"


def scenic(g: _Generator, p: Person, s: Stay, day: date, departure: bool) -> tuple[Fields, str]:
    f: Fields = {"name": _name(g, p, 0.01)}
    if _r(g) < 0.85:
        f["id_number"] = _id_number(g, p, masked=0.25)
    if _r(g) < 0.7:
        f["phone"] = p.phone
    if _r(g) < 0.9:
        f["origin"] = _origin(g, p)
    if _r(g) < 0.7:
        f["address"] = _address(g, s, "district")
    return f, "wgs84"


_CHANNELS = {
    "grid_worker": grid_worker,
    "police": police,
    "courier": courier,
    "delivery_rider": rider,
    "merchant": merchant,
    "scenic_area": scenic,
}
