"""Synthetic grid workers, service areas and address gazetteer for the demo boundaries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.demo import names
from geo.demo.grid import DemoBoundaries
from geo.spatial.places.catalogue import all_items

SEED = 20260602
SERVICE_AREAS = 109  # the city's figure
EDGE_MARGIN_DEG = 0.0003  # keep buildings ~25 m inside their cell, so addresses are unambiguous


@dataclass(frozen=True)
class Worker:
    name: str
    work_phone: str
    wechat_id: str
    cell_codes: tuple[str, ...]


@dataclass(frozen=True)
class ServiceAreaRow:
    name: str
    community_code: str
    address: str
    opening_hours: str
    phone: str
    services: list[str]
    point: shapely.Point


@dataclass(frozen=True)
class AddressRow:
    district_code: str
    street_code: str
    community_code: str
    cell_code: str
    compound: str
    building: int | None
    units: int
    full_address: str
    point: shapely.Point


def _person_name(rng: np.random.Generator) -> str:
    given = "".join(rng.choice(list(names.GIVEN_CHARS), size=int(rng.integers(1, 3))))
    return str(rng.choice(list(names.SURNAMES))) + given


def _point_in(polygon: shapely.Geometry, rng: np.random.Generator) -> shapely.Point:
    inner = polygon.buffer(-EDGE_MARGIN_DEG)
    area = inner if not inner.is_empty else polygon
    minx, miny, maxx, maxy = area.bounds
    while True:
        p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(p):
            return shapely.Point(round(p.x, 7), round(p.y, 7))


def workers(b: DemoBoundaries) -> list[Worker]:
    """One worker per cell; the city's practice is one 网格员 per 网格."""
    rng = np.random.default_rng(SEED)
    result = []
    for i, cell in enumerate(b.cells):
        result.append(
            Worker(
                name=_person_name(rng),
                work_phone=f"0458-{3600000 + i:07d}",  # Yichun area code 0458; synthetic numbers
                wechat_id=f"yc_grid_{cell.code[-9:]}",
                cell_codes=(cell.code,),
            )
        )
    return result


def _labels(b: DemoBoundaries) -> dict[str, str]:
    return {x.code: x.name for x in (*b.districts, *b.streets, *b.communities)}


def service_areas(b: DemoBoundaries) -> list[ServiceAreaRow]:
    """109 service zones, each in the service centre of a different community."""
    rng = np.random.default_rng(SEED + 1)
    label = _labels(b)
    chosen = sorted(rng.choice(len(b.communities), size=SERVICE_AREAS, replace=False))
    items = all_items()
    rows = []
    for idx in chosen:
        c = b.communities[idx]
        street = c.parent_code or ""
        district = street[:6]
        # Every zone offers the core categories; culture and health items vary by centre.
        offered = sorted(rng.choice(items, size=int(rng.integers(24, 49)), replace=False))
        hours = (
            "Mo-Su 08:00-20:00" if rng.random() < 0.6 else "Mo-Fr 08:30-17:30; Sa-Su 09:00-16:00"
        )
        rows.append(
            ServiceAreaRow(
                name=f"{c.name}候鸟服务区",
                community_code=c.code,
                address=f"伊春市{label[district]}{label[street]}{c.name}党群服务中心",
                opening_hours=hours,
                phone=f"0458-{3800000 + int(idx):07d}",
                services=[str(s) for s in offered],
                point=_point_in(c.geometry, rng),
            )
        )
    return rows


def gazetteer(b: DemoBoundaries) -> list[AddressRow]:
    """1-3 residential compounds per cell, 4-12 buildings each, plus each compound's gate."""
    rng = np.random.default_rng(SEED + 2)
    label = _labels(b)
    rows: list[AddressRow] = []
    used: dict[str, set[str]] = {}
    for cell in b.cells:
        community = cell.parent_code or ""
        street, district = community[:9], community[:6]
        taken = used.setdefault(district, set())
        for _ in range(int(rng.integers(1, 4))):
            compound = _compound_name(rng, taken)
            prefix = f"伊春市{label[district]}{label[street]}{label[community]}{compound}"
            gate = _point_in(cell.geometry, rng)
            rows.append(
                AddressRow(district, street, community, cell.code, compound, None, 0, prefix, gate)
            )
            for building in range(1, int(rng.integers(4, 13)) + 1):
                rows.append(
                    AddressRow(
                        district,
                        street,
                        community,
                        cell.code,
                        compound,
                        building,
                        int(rng.integers(1, 5)),
                        f"{prefix}{building}号楼",
                        _point_in(cell.geometry, rng),
                    )
                )
    return rows


def _compound_name(rng: np.random.Generator, taken: set[str]) -> str:
    for _ in range(1000):
        name = (
            str(rng.choice(names.COMPOUND_PREFIXES))
            + str(rng.choice(names.COMPOUND_SUFFIXES))
            + str(rng.choice(names.COMPOUND_PHASES))
        )
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("compound name pool exhausted")
