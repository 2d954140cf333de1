"""The archive's values, derived from its reports: one function, used after every link, review,
merge and split, so the archive never drifts from what the channels said.

Which report wins, per field:
- name: a full name from a channel that sees documents (police, scenic-area real-name tickets),
  then the grid worker, then the others; within a rank the most frequent, then the latest. A
  partial name (王先生) only when no full name exists.
- sex, birth date, birth year: from an ID number when there is one; otherwise the most frequent
  stated sex, the most frequent stated birth year, else the median of years implied by ages.
- ID number: the most frequent valid one; phone: the latest; origin: the most frequent province,
  with its most frequent city; occupation: the latest, the grid worker's first; tags: all.

Conflicts are kept and flagged, never overwritten: two ID numbers, two sexes, two full names that
do not sound alike, exact birth years more than a year apart, or stated ages far from the chosen
birth year, and two origin provinces.

Stays, per season, from that season's reports with a location: the latest point of the best
precision; arrival = earliest stated arrival (else the first report); expected departure, housing
and household size = the latest stated; departure = the latest stated departure.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from geo.core import clock
from geo.residents.models import Precision

CHANNEL_RANK = {"police": 0, "scenic_area": 1, "grid_worker": 2}  # others: 3
PRECISION_RANK = {
    Precision.point: 0,
    Precision.building: 0,
    Precision.compound: 1,
    Precision.community: 2,
}
AGE_TOLERANCE = 3  # years a stated age may be off before it counts as a conflict

Row = dict[str, Any]


def _rank(r: Row) -> int:
    return CHANNEL_RANK.get(r["channel"], 3)


def _latest(rows: Iterable[Row], key: str) -> Row | None:
    found = [r for r in rows if r.get(key) is not None]
    return max(found, key=lambda r: (r["reported_at"], r.get("id") or 0)) if found else None


def _most_frequent(values: Sequence[Any]) -> Any:
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], -values.index(v))) if counts else None


def resident_values(rows: Sequence[Row]) -> dict[str, Any]:
    """The archive's current values and conflicts from its reports (ordered by time)."""
    rows = sorted(rows, key=lambda r: (r["reported_at"], r.get("id") or 0))
    out: dict[str, Any] = {}
    conflicts: dict[str, list[Any]] = {}

    full = [r for r in rows if r.get("name") and not r.get("name_partial")]
    if full:
        best_rank = min(_rank(r) for r in full)
        ranked = [r for r in full if _rank(r) == best_rank]
        counts = Counter(r["name"] for r in ranked)
        top = max(counts.values())
        chosen = [r for r in ranked if counts[r["name"]] == top][-1]
        out["name"], out["name_key"] = chosen["name"], chosen["name_key"]
        keys = {r["name_key"]: r["name"] for r in full}
        if len(keys) > 1:
            conflicts["name"] = sorted(set(keys.values()))
    else:
        r = _latest(rows, "name")
        out["name"], out["name_key"] = (r["name"], r["name_key"]) if r else (None, None)

    with_id = [r for r in rows if r.get("id_number_hash")]
    if with_id:
        hashes = [r["id_number_hash"] for r in with_id]
        h = _most_frequent(hashes)
        chosen = [r for r in with_id if r["id_number_hash"] == h][-1]
        out["id_number_hash"] = h
        out["id_number_enc_from"] = chosen  # the caller re-encrypts under the resident's context
        out["id_number_masked"] = chosen["id_number_masked"]
        if len(set(hashes)) > 1:
            conflicts["id_number"] = sorted({r["id_number_masked"] for r in with_id})
        sexes = [r["sex"] for r in with_id if r["id_number_hash"] == h and r.get("sex")]
        out["sex"] = sexes[-1] if sexes else None
        out["birth_date"] = chosen.get("birth_date")
        out["birth_year"] = chosen.get("birth_year")
    else:
        out.update(id_number_hash=None, id_number_enc_from=None, id_number_masked=None)
        sexes = [r["sex"] for r in rows if r.get("sex")]
        out["sex"] = _most_frequent(sexes)
        exact = [r["birth_year"] for r in rows if r.get("birth_year") and r.get("birth_exact")]
        approx = [r["birth_year"] for r in rows if r.get("birth_year") and not r.get("birth_exact")]
        out["birth_date"] = None
        out["birth_year"] = (
            _most_frequent(exact)
            if exact
            else int(statistics.median_low(approx))
            if approx
            else None
        )
    all_sexes = {r["sex"] for r in rows if r.get("sex")}
    if len(all_sexes) > 1:
        conflicts["sex"] = sorted(all_sexes)
    _birth_conflicts(rows, out.get("birth_year"), conflicts)

    phone = _latest(rows, "phone_hash")
    out["phone_hash"] = phone["phone_hash"] if phone else None
    out["phone_enc_from"] = phone
    out["phone_masked"] = phone["phone_masked"] if phone else None

    provinces = [r["origin_province"] for r in rows if r.get("origin_province")]
    province = _most_frequent(provinces)
    if len(set(provinces)) > 1:
        conflicts["origin_province"] = sorted(set(provinces))
    cities = [
        r["origin_city"]
        for r in rows
        if r.get("origin_city") and r.get("origin_province") == province
    ]
    origin_rows = [r for r in rows if r.get("origin")]
    out["origin_province"] = province
    out["origin_city"] = _most_frequent(cities)
    city = out["origin_city"]
    if province:
        out["origin"] = province + (city if city and city != province else "")
    else:
        out["origin"] = origin_rows[-1]["origin"] if origin_rows else None
    occupation = _latest([r for r in rows if r["channel"] == "grid_worker"], "occupation")
    occupation = occupation or _latest(rows, "occupation")
    out["occupation"] = occupation["occupation"] if occupation else None
    out["tags"] = sorted({t for r in rows for t in (r.get("tags") or [])})
    out["conflicts"] = conflicts
    out["first_seen_at"] = rows[0]["reported_at"]
    out["last_seen_at"] = rows[-1]["reported_at"]
    return out


def _birth_conflicts(
    rows: Sequence[Row], chosen: int | None, conflicts: dict[str, list[Any]]
) -> None:
    exact = sorted({r["birth_year"] for r in rows if r.get("birth_year") and r.get("birth_exact")})
    if len(exact) > 1 and exact[-1] - exact[0] > 1:
        conflicts["birth_year"] = exact
        return
    if chosen is None:
        return
    far = sorted(
        {
            r["birth_year"]
            for r in rows
            if r.get("birth_year")
            and not r.get("birth_exact")
            and abs(r["birth_year"] - chosen) > AGE_TOLERANCE
        }
    )
    if far:
        conflicts["birth_year"] = sorted({chosen, *far})


def stay_values(rows: Sequence[Row]) -> dict[int, dict[str, Any]]:
    """Season -> the stay's values, for every season with at least one located report."""
    seasons: dict[int, list[Row]] = {}
    for r in rows:
        seasons.setdefault(r["season"], []).append(r)
    out = {}
    for season, group in seasons.items():
        located = [r for r in group if r.get("community_code") and r.get("lon") is not None]
        if not located:
            continue
        best = min(PRECISION_RANK[Precision(r["precision"])] for r in located)
        place = _latest(
            [r for r in located if PRECISION_RANK[Precision(r["precision"])] == best],
            "community_code",
        )
        assert place is not None
        arrivals = [r["arrived_on"] for r in group if r.get("arrived_on")]
        first_day = min(_day(r) for r in group)
        departed = _latest(group, "departed_on")
        out[season] = {
            "season": season,
            "address": place.get("address"),
            "lon": place["lon"],
            "lat": place["lat"],
            "precision": place["precision"],
            "cell_code": place.get("cell_code"),
            "community_code": place["community_code"],
            "street_code": place["street_code"],
            "housing_type": _value(_latest(group, "housing_type"), "housing_type"),
            "household_size": _value(_latest(group, "household_size"), "household_size"),
            "arrived_on": min(arrivals) if arrivals else first_day,
            "expected_departure": _value(
                _latest(group, "expected_departure"), "expected_departure"
            ),
            "departed_on": departed["departed_on"] if departed else None,
            "departure_confirmed_by": departed["submitted_by_name"] if departed else None,
            "last_reported_on": max(_day(r) for r in group),
        }
        if out[season]["departed_on"] and out[season]["departed_on"] < out[season]["arrived_on"]:
            out[season]["arrived_on"] = out[season]["departed_on"]
    return out


def _value(row: Row | None, key: str) -> Any:
    return row[key] if row else None


def _day(r: Row) -> date:
    return clock.city_date(r["reported_at"])


def scope_of(stays: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """A resident's scope columns: those of its latest stay."""
    if not stays:
        return None
    latest = stays[max(stays)]
    return {k: latest[k] for k in ("cell_code", "community_code", "street_code")}
