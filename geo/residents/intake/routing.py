"""Where an intake decision may land: the scope rule, and the review queue a report waits in.

Person roles (grid workers, community and street staff) read the archives in their scope, so
what they report must neither bring an archive into their scope nor found one outside it:

- a report from a person role placed outside the submitter's scope, or one that linkage would
  link to an archive outside it, is neither linked nor founds an archive: it goes to review;
- every report in review waits in the queue of its best candidate archive's scope (that
  archive's own grid worker decides whether it is their person), or, with no candidate, where
  it was placed. Its place stays in `geom` and `geocode`; the scope columns of a report in
  review say who reviews it (`placement` gives the place back when it is decided).

A resident's own registration (channel `self`, the public form) is unverified: anyone can type
a name and a phone number, so it never links or founds an archive by itself. Linkage scores it
as any report; a link becomes a review with that archive as the candidate, a new person a review
where it was placed, and the cell's grid worker decides (link / new) with the evidence shown.

Linkage itself scores city-wide (an ID number is one person wherever they were last seen); only
the outcome is bounded here. Channels never read an archive, so their reports link city-wide,
and what they are told does not depend on who is known (`geo.residents.intake.submissions`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from geo.access.principal import Principal, in_scope
from geo.residents.intake.linkage import Match, Outcome
from geo.residents.schemas import PERSON_ROLES

Scope = dict[str, str | None]  # cell_code, community_code, street_code
SCOPE_COLUMNS = ("cell_code", "community_code", "street_code")
CERTAIN = 999.0  # the stored score of an ID-number match (JSON has no infinity)


def is_person(me: Principal | None) -> bool:
    """A role that reads archives in a scope: its reports are bounded by that scope."""
    return me is not None and me.role in PERSON_ROLES


def holds(me: Principal, scope: Mapping[str, Any] | None) -> bool:
    """Whether `me`'s scope holds a place or an archive given by its scope columns."""
    if not scope:
        return False
    return in_scope(
        me,
        cell_code=scope.get("cell_code"),
        community_code=scope.get("community_code"),
        street_code=scope.get("street_code"),
    )


def route(
    outcome: Outcome,
    placed: Scope | None,
    archives: Mapping[int, Scope],
    submitter: Principal | None,
    *,
    unverified: bool = False,
) -> tuple[Outcome, Scope | None]:
    """The outcome within the submitter's bounds, and the queue of a review (None: where the
    report was placed). `unverified` (self-registration): every link or new archive waits for
    review.

    `archives` holds the current scope of every archive the outcome names.
    """
    if unverified and outcome.decision == "linked":
        outcome = Outcome("review", None, outcome.score, outcome.reasons, (_candidate(outcome),))
    elif unverified and outcome.decision == "new":
        outcome = Outcome("review", None, None, (), outcome.candidates)
    if is_person(submitter) and outcome.decision in ("new", "linked"):
        assert submitter is not None
        inside = holds(submitter, placed)
        if outcome.decision == "linked":
            assert outcome.resident_id is not None
            if not (inside and holds(submitter, archives.get(outcome.resident_id))):
                outcome = Outcome(
                    "review", None, outcome.score, outcome.reasons, (_candidate(outcome),)
                )
        elif not inside:
            outcome = Outcome("review")  # nothing to compare with: no score, no reasons
    if outcome.decision != "review":
        return outcome, None
    best = outcome.candidates[0].resident_id if outcome.candidates else None
    queue = archives.get(best) if best is not None else None
    return outcome, (dict(queue) if queue else None)


def _candidate(outcome: Outcome) -> Match:
    """The archive a link was about to target, as a review candidate (finite numbers only)."""
    assert outcome.resident_id is not None

    def finite(x: float | None) -> float:
        return CERTAIN if x is None or not math.isfinite(x) else x

    reasons = tuple((level, finite(w)) for level, w in outcome.reasons)
    return Match(outcome.resident_id, finite(outcome.score), reasons)


def placement(geocode: Mapping[str, Any] | None) -> Scope | None:
    """Where a stored report was placed, from its geocoding result (None: not placed)."""
    if not geocode:
        return None
    cell = geocode.get("cell_code")
    community = geocode.get("community_code") or (cell[:12] if cell else None)
    if not community:
        return None
    return {"cell_code": cell, "community_code": community, "street_code": community[:9]}
