"""One workflow step on a selection of cases (the console's bulk actions): each case is its own
step, in its own savepoint, through `service.transition` with the version the selection saw, so
one refused case (moved on since, outside the scope, not allowed now) leaves the others done and
itself untouched. Only steps that need nothing per case are offered in bulk."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from geo.access.principal import Principal
from geo.cases import service
from geo.cases.schemas import TransitionRequest
from geo.core.errors import DomainError, InvalidInput, NotFound, PreconditionFailed

# accept (grade unchanged), dispatch (to the cell's grid worker), escalate one tier.
BULK_ACTIONS = ("accept", "dispatch", "escalate")
MAX_BULK = 50


@dataclass(frozen=True)
class BulkOutcome:
    case_id: int
    done: bool
    why: str = ""  # why not, for a person: moved on since, not found, not allowed now


def parse_selection(values: list[str]) -> list[tuple[int, int]]:
    """`id:version` pairs as the queue's checkboxes send them; refuses anything else."""
    if not values:
        raise InvalidInput("select at least one case")
    if len(values) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} cases at once, got {len(values)}")
    out = []
    for v in values:
        case_id, _, version = v.partition(":")
        if not (case_id.isdigit() and version.isdigit()) or len(v) > 24:
            raise InvalidInput(f"not a case selection (id:version): {v[:30]!r}")
        out.append((int(case_id), int(version)))
    return out


def transition_many(
    session: Session,
    me: Principal,
    action: str,
    selection: list[tuple[int, int]],
    *,
    note: str | None = None,
) -> list[BulkOutcome]:
    """Apply `action` to each selected case at the version seen; one outcome per case."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"{action!r} is not a bulk action; one of: {', '.join(BULK_ACTIONS)}")
    request = TransitionRequest.model_validate({"action": action, "note": note})
    outcomes = []
    for case_id, version in dict.fromkeys(selection):  # a case selected twice acts once
        try:
            with session.begin_nested():
                service.transition(session, me, case_id, request, expected_version=version)
            outcomes.append(BulkOutcome(case_id, True))
        except PreconditionFailed:
            outcomes.append(BulkOutcome(case_id, False, "stale"))
        except NotFound:
            outcomes.append(BulkOutcome(case_id, False, "not_found"))
        except DomainError as exc:  # not allowed now, no grid worker, ...
            outcomes.append(BulkOutcome(case_id, False, exc.detail))
    return outcomes
