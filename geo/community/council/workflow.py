"""The suggestion pipeline (建议办理): states and the ONE table of allowed steps.

received (已受理) -> under_study (研究中) -> adopted (已采纳) | not_adopted (未采纳, with a reason)
adopted -> implemented (已落实). Each step names its owner (who carries the suggestion from
here) and is dated by the one clock; anything else is an InvalidTransition (409) listing what
the caller may do. Only staff of the suggestion's community or street act (checked by the
query that locks the row).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from geo.core.errors import InvalidTransition


class Status(StrEnum):
    received = "received"
    under_study = "under_study"
    adopted = "adopted"
    not_adopted = "not_adopted"
    implemented = "implemented"


STATUS_LABELS: dict[Status, str] = {
    Status.received: "已受理",
    Status.under_study: "研究中",
    Status.adopted: "已采纳",
    Status.not_adopted: "未采纳",
    Status.implemented: "已落实",
}
ADOPTED = frozenset({Status.adopted, Status.implemented})


@dataclass(frozen=True)
class Step:
    action: str
    from_status: Status
    to_status: Status
    label: str
    needs_reason: bool = False


S = Status
STEPS: tuple[Step, ...] = (
    Step("study", S.received, S.under_study, "转入研究"),
    Step("adopt", S.under_study, S.adopted, "采纳"),
    Step("reject", S.under_study, S.not_adopted, "不予采纳", needs_reason=True),
    Step("implement", S.adopted, S.implemented, "落实完成"),
)
ACTIONS: tuple[str, ...] = tuple(s.action for s in STEPS)


def step(action: str, status: Status) -> Step:
    """The step of `action` from `status`; InvalidTransition listing the possible ones."""
    found = next((s for s in STEPS if s.action == action and s.from_status == status), None)
    if found is None:
        options = [s.action for s in STEPS if s.from_status == status]
        raise InvalidTransition(
            f"{action!r} is not possible on a suggestion that is {status.value!r}; you may: "
            + (", ".join(options) or "nothing now (the pipeline has ended)"),
            status=status.value,
            allowed=options,
        )
    return found
