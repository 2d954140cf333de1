"""Open cases as a collection for vector tiles, OGC API Features and the dispatcher map (issue 6).

The source is the `case_open` view (security_invoker, so row-level security applies as well) with
the clock state against city_now(); the scope is `geo.cases.scope.case_filter`, the rule of every
case query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from geo.access.principal import Principal, Role
from geo.cases.clock import DUE_SOON
from geo.cases.scope import case_filter
from geo.spatial.features.registry import Collection, Field, register

# When the clock state changes next by time alone (case_clock(): on_track until DUE_SOON before
# the due time, due_soon until it, then overdue for good; met and missed do not change): a tile
# cache keeps a tile no longer than that.
_DUE_SOON = f"interval '{int(DUE_SOON.total_seconds())} seconds'"
SOURCE = (
    "SELECT o.id, o.category_code AS category, k.name_zh AS category_label,"
    " o.status::text AS status, o.tier::text AS tier, o.clock_state, o.cell_code,"
    " o.community_code, o.street_code, o.geom,"
    f" CASE o.clock_state WHEN 'on_track' THEN o.due_at - {_DUE_SOON}"
    " WHEN 'due_soon' THEN o.due_at END AS clock_changes_at"
    " FROM case_open o JOIN case_category k ON k.code = o.category_code"
)


def _scope(me: Principal | None, c: Any) -> ColumnElement[bool]:
    return case_filter(me or Principal.anonymous(), c)


OPEN_CASES = register(
    Collection(
        id="open_cases",
        title="待办事件",
        title_en="Open cases",
        description="Open cases on the 48-hour clock (on_track, due_soon, overdue), as far as the"
        " caller may see them.",
        source=SOURCE,
        fields=(
            Field("category", "string", "类别"),
            Field("category_label", "string", "类别名称"),
            Field("status", "string", "状态"),
            Field("tier", "string", "层级"),
            Field("clock_state", "string", "时限状态"),
            Field("cell_code", "string", "网格编码"),
            Field("community_code", "string", "社区编码"),
            Field("street_code", "string", "街道编码"),
        ),
        geometry_type="Point",
        id_column="id",
        id_type="integer",
        versioned=False,
        roles=(
            Role.dispatcher,
            Role.street_staff,
            Role.community_staff,
            Role.grid_worker,
            Role.department,
        ),
        scope=_scope,
        export=False,
        queryables=("category", "status", "tier", "clock_state"),
        changed_by="case_events",  # every change of a case is an event at its point
        changes_at="clock_changes_at",
    )
)
