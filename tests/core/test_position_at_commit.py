"""A write's read-your-writes position read by its COMMIT's own round trip (geo/core/replica.py,
api/deps.py `WRITE_POSITION`)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api import reads
from api.auth import Credentials
from api.deps import SessionDep
from api.reads import LSN_HEADER
from api.unit_of_work import in_one_thread
from geo.access.rls import app_engine
from geo.core import replica
from geo.core.db import get_engine
from tests.db import test_database_url


@pytest.fixture
def owner(engine):  # `engine`: the test database exists, migrated
    engine = replica.install_position_at_commit(create_engine(test_database_url(), pool_size=1))
    yield engine
    engine.dispose()


def test_the_position_is_read_after_the_commit_it_covers(engine):
    """The app's engine: the transaction is committed when its position is read, the position is
    past the commit's record, and the connection goes back idle and usable."""
    with Session(app_engine()) as session:
        xid = session.scalar(text("SELECT pg_current_xact_id()::text"))  # makes a commit record
        before = replica.lsn_number(replica.wal_position(session))
        wanted = replica.PositionAtCommit()
        with replica.position_read_by_commit(wanted):
            assert wanted.lsn is None  # nothing read before the commit
            session.commit()
        # past the commit record (a read before the COMMIT would give `before` itself)
        assert wanted.lsn is not None and replica.lsn_number(wanted.lsn) > before
        status = session.scalar(text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": xid})
        assert status == "committed"
        session.commit()


def test_only_the_commits_inside_read_the_position(owner):
    """A rollback inside reads nothing, and a commit after the block is an ordinary one."""
    wanted = replica.PositionAtCommit()
    with Session(owner) as session:
        with replica.position_read_by_commit(wanted):
            session.execute(text("SELECT pg_current_xact_id()"))
            session.rollback()
        session.execute(text("SELECT pg_current_xact_id()"))
        session.commit()
    assert wanted.lsn is None


def test_a_failed_commit_raises_as_sqlalchemy_would(owner):
    """A COMMIT refused by the server (a deferred unique key here) is SQLAlchemy's IntegrityError,
    as without the position, and nothing is kept."""
    with Session(owner) as session:
        session.execute(text("CREATE TEMP TABLE once (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
        session.commit()
        session.execute(text("INSERT INTO once VALUES (1), (1)"))
        wanted = replica.PositionAtCommit()
        with replica.position_read_by_commit(wanted), pytest.raises(IntegrityError, match="once"):
            session.commit()
        session.rollback()
        assert wanted.lsn is None
        assert session.scalar(text("SELECT count(*) FROM once")) == 0


def test_writes_over_http_carry_the_position_their_commit_read(engine, monkeypatch):
    """A write through `SessionDep` and one through `in_one_thread` answer with the position
    their own COMMIT read: the middleware's separate read is never made."""

    def apart() -> None:
        pytest.fail("the position was read apart from the commit")

    monkeypatch.setattr(reads, "_primary_position", apart)
    app = FastAPI()
    app.add_middleware(reads.ReadYourWrites)
    xact = "SELECT pg_current_xact_id()::text"  # a transaction id: the commit writes a record

    @app.post("/dependency")
    def dependency(session: SessionDep) -> str:
        return str(session.scalar(text(xact)))

    @app.post("/one-thread")
    async def one_thread(request: Request) -> str:
        return await in_one_thread(request, Credentials(), lambda s, _: str(s.scalar(text(xact))))

    with Session(get_engine(test_database_url())) as admin, TestClient(app) as client:
        for path in ("/dependency", "/one-thread"):
            before = replica.lsn_number(replica.wal_position(admin))
            r = client.post(path)
            assert r.status_code == 200 and replica.lsn_number(r.headers[LSN_HEADER]) > before
            status = admin.scalar(text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": r.json()})
            assert status == "committed"
            admin.rollback()
