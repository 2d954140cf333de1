"""Row-level security with the application's own filter bypassed: a bare SELECT as the app role
returns only the caller's scope, and nothing without one. Uses a scratch table put under
`enable_scoped_rls` exactly as residents, stays and cases will be."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.access.principal import (
    PUBLIC,
    Principal,
    Role,
    apply_rls,
    as_system,
    clear_rls,
    enable_scoped_rls,
    in_scope,
    scope_filter,
    scoped_rls_sql,
    system_function_sql,
)
from tests.security.conftest import APP_ROLE, OTHER_CELL, OWN_CELL, as_app_role, principal

NEIGHBOUR = "230717001001002"  # same community as OWN_CELL, another cell
PROBE = Table(
    "rls_probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("cell_code", String(15)),
    Column("community_code", String(12)),
    Column("street_code", String(9)),
    Column("department", Text),
    Column("reported_by", Integer),
    Column("secret", Text),
)
ROWS = [  # cell, department, reported_by, secret
    (OWN_CELL, "health", 7001, "own 张三 13812345678"),
    (NEIGHBOUR, None, None, "neighbour 李四"),
    (OTHER_CELL, "housing", 7002, "other 王五"),
]


class Op:
    """What a migration's `op` offers to enable_scoped_rls: execute(sql)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def execute(self, sql: str) -> None:
        self.session.execute(text(sql))


def create_probe(session: Session, **rls: object) -> None:
    session.execute(
        text(
            "CREATE TABLE rls_probe (id serial PRIMARY KEY, cell_code varchar(15) NOT NULL,"
            " community_code varchar(12) NOT NULL, street_code varchar(9) NOT NULL,"
            " department text, reported_by integer, secret text NOT NULL)"
        )
    )
    for cell, department, owner, secret in ROWS:
        session.execute(
            PROBE.insert().values(
                cell_code=cell,
                community_code=cell[:12],
                street_code=cell[:9],
                department=department,
                reported_by=owner,
                secret=secret,
            )
        )
    enable_scoped_rls(
        Op(session),
        "rls_probe",
        cell_col="cell_code",
        community_col="community_code",
        street_col="street_code",
        department_col="department",
        owner_col="reported_by",
        **rls,
    )


@pytest.fixture
def probe(session: Session) -> Session:
    create_probe(session)
    session.commit()
    return session


def visible(session: Session, me: Principal | None) -> set[str]:
    """A bare SELECT, no WHERE: whatever comes back, RLS let through."""
    with session.begin_nested():
        if me is None:
            clear_rls(session)
        else:
            apply_rls(session, me)
        return {r.secret.split()[0] for r in session.execute(select(PROBE.c.secret))}


def filtered(session: Session, me: Principal) -> set[str]:
    """The application's own filter (run as the owner, who bypasses RLS)."""
    clause = scope_filter(
        me,
        cell=PROBE.c.cell_code,
        community=PROBE.c.community_code,
        street=PROBE.c.street_code,
        department=PROBE.c.department,
        owner=PROBE.c.reported_by,
    )
    return {r.secret.split()[0] for r in session.execute(select(PROBE.c.secret).where(clause))}


CASES = [
    (principal(Role.grid_worker, OWN_CELL), {"own"}),
    (principal(Role.grid_worker, OTHER_CELL), {"other"}),
    (principal(Role.community_staff, OWN_CELL), {"own", "neighbour"}),
    (principal(Role.community_staff, OTHER_CELL), {"other"}),
    (principal(Role.street_staff, OWN_CELL), {"own", "neighbour"}),
    (principal(Role.street_staff, OTHER_CELL), {"other"}),
    (principal(Role.department, OWN_CELL), {"own"}),  # department "health"
    (principal(Role.channel, OWN_CELL, account_id=7001), {"own"}),
    (principal(Role.channel, OWN_CELL, account_id=9999), set()),
    (principal(Role.dispatcher), set()),  # personal data: counts only, never rows
    (principal(Role.planner), set()),
    (principal(Role.admin), set()),
    # centre staff work requests and bookings of their service area: no resident, stay or case
    (principal(Role.centre_staff, OWN_CELL, area=1), set()),
    (Principal.anonymous(), set()),
    (Principal(role="grid_worker", name="no cells", account_id=5), set()),
    (Principal(role="superhero", name="made-up role", account_id=5), set()),
]


@pytest.mark.parametrize(("me", "expected"), CASES, ids=lambda v: getattr(v, "name", None))
def test_bare_select_as_app_role_sees_only_the_scope(probe, me, expected):
    assert filtered(probe, me) == expected  # the application's filter ...
    as_app_role(probe)
    assert visible(probe, me) == expected  # ... and the database agree, filter or not


def test_no_settings_no_rows_and_system_is_not_for_the_app(probe):
    as_app_role(probe)
    assert probe.scalar(text("SELECT current_user")) == APP_ROLE
    assert visible(probe, None) == set()
    assert visible(probe, Principal.system()) == set()  # the system policy is the owner's only
    with probe.begin_nested():  # forging settings by hand works no better
        probe.execute(text("SELECT set_config('houniao.role', 'system', true)"))
        assert probe.execute(select(PROBE.c.id)).all() == []


def test_cannot_write_outside_the_scope(probe):
    as_app_role(probe)
    me = principal(Role.grid_worker, OWN_CELL)
    with probe.begin_nested():
        apply_rls(probe, me)
        probe.execute(
            PROBE.insert().values(
                cell_code=OWN_CELL,
                community_code=OWN_CELL[:12],
                street_code=OWN_CELL[:9],
                secret="mine",
            )
        )
    for stmt in (
        PROBE.insert().values(
            cell_code=OTHER_CELL,
            community_code=OTHER_CELL[:12],
            street_code=OTHER_CELL[:9],
            secret="planted",
        ),
        PROBE.update().where(PROBE.c.cell_code == OWN_CELL).values(cell_code=OTHER_CELL),
    ):
        with pytest.raises(DBAPIError, match="row-level security"), probe.begin_nested():
            apply_rls(probe, me)
            probe.execute(stmt)
    with probe.begin_nested():  # updating a row out of sight changes nothing
        apply_rls(probe, me)
        result = probe.execute(
            PROBE.update().where(PROBE.c.cell_code == OTHER_CELL).values(secret="overwritten")
        )
        assert result.rowcount == 0


def test_city_wide_roles(session):
    create_probe(session, city_wide=("dispatcher",))
    session.commit()
    as_app_role(session)
    assert visible(session, principal(Role.dispatcher)) == {"own", "neighbour", "other"}
    assert visible(session, principal(Role.planner)) == set()


def test_force_rls_binds_the_owner_too_unless_it_says_system(session):
    """A table owner that is not a superuser (as in production) sees nothing by accident."""
    owner = f"t_probe_owner_{secrets.token_hex(4)}"
    session.execute(text(f'CREATE ROLE "{owner}" NOLOGIN'))
    session.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{owner}"'))
    session.execute(text(f'SET LOCAL ROLE "{owner}"'))
    create_probe(session)
    session.execute(
        text(
            system_function_sql(
                "probe_counts",
                "TABLE (cell text, n bigint)",
                "SELECT cell_code::text, count(*) FROM public.rls_probe GROUP BY 1",
            )
        )
    )
    session.execute(text(f'GRANT SELECT ON rls_probe TO "{APP_ROLE}"'))
    session.commit()
    assert visible(session, None) == set()
    assert visible(session, principal(Role.planner)) == set()
    assert visible(session, Principal.system()) == {"own", "neighbour", "other"}
    with session.begin_nested():
        as_system(session)
        assert len(session.execute(select(PROBE.c.id)).all()) == 3
    # The aggregate path for planners: an owner-defined function that counts, never lists.
    session.execute(text(f'SET LOCAL ROLE "{APP_ROLE}"'))
    with session.begin_nested():
        apply_rls(session, principal(Role.planner))
        counts = dict(session.execute(text("SELECT cell, n FROM probe_counts()")).all())
        assert counts == {OWN_CELL: 1, NEIGHBOUR: 1, OTHER_CELL: 1}
        assert session.execute(select(PROBE.c.id)).all() == []  # the caller's scope is back
        assert session.scalar(text("SELECT current_setting('houniao.role')")) == "planner"


def test_policy_sql_is_deny_by_default_and_validated():
    sql = scoped_rls_sql("stay", cell_col="cell_code")
    assert sql[:2] == [
        'ALTER TABLE "stay" ENABLE ROW LEVEL SECURITY',
        'ALTER TABLE "stay" FORCE ROW LEVEL SECURITY',
    ]
    assert not any("planner" in s or "'admin'" in s for s in sql)
    assert any('left("cell_code", 12)' in s for s in sql)  # community derived from the cell
    with pytest.raises(ValueError):
        scoped_rls_sql("stay; DROP TABLE account", cell_col="cell_code")
    with pytest.raises(ValueError):
        scoped_rls_sql("stay", cell_col="cell_code", city_wide=("superuser",))


def test_policy_role_names_match_the_roles():
    from geo.access import rls

    assert {r.value for r in Role} == rls.ROLE_NAMES


def test_in_scope_mirrors_scope_filter():
    assert in_scope(principal(Role.grid_worker), cell_code=OWN_CELL)
    assert not in_scope(principal(Role.grid_worker), cell_code=NEIGHBOUR)
    assert in_scope(principal(Role.community_staff), cell_code=NEIGHBOUR)
    assert not in_scope(principal(Role.community_staff), cell_code=OTHER_CELL)
    assert in_scope(principal(Role.street_staff), cell_code=NEIGHBOUR)
    assert not in_scope(principal(Role.planner), cell_code=OWN_CELL)
    assert in_scope(principal(Role.dispatcher), cell_code=OWN_CELL, city_wide=("dispatcher",))
    assert not in_scope(Principal.anonymous(), cell_code=OWN_CELL)
    assert in_scope(Principal.system(), cell_code=OTHER_CELL)
    assert PUBLIC == "public"
