"""Frozen city clocks for tests: Python's (time-machine) and PostgreSQL's (`city_now()`) together.

- The whole suite at a chosen city time: `HOUNIAO_TEST_CLOCK=2026-04-30T23:30 pytest` (or
  `pytest --city-clock 2026-04-30T23:30`); the time is Yichun's wall clock. At session start,
  before any connection, Python travels there (ticking on), every PostgreSQL connection gets the
  same offset through `PGOPTIONS` (`houniao.clock_offset`, read by `city_now()`), and Python
  subprocesses (the `houniao` CLI, uvicorn) travel by the same offset through
  tests/subprocess_clock/sitecustomize.py. All three clocks then agree to the millisecond.
- One test at a chosen city time: `@pytest.mark.city_clock("2026-04-30T23:30")`; the test's
  session (and the app through `client`) sees the same instant in SQL.

Destinations are given to time-machine as timestamps, never as ZoneInfo datetimes: with a
ZoneInfo destination time-machine also sets the process's TZ, which would hide exactly the
host-zone bugs the frozen runs are there to catch.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import time_machine

from geo.core import clock

ENV_CLOCK = "HOUNIAO_TEST_CLOCK"  # city wall-clock time, e.g. 2026-04-30T23:30
ENV_OFFSET = "HOUNIAO_TEST_CLOCK_OFFSET"  # seconds, for the subprocess hook
HOOK_DIR = Path(__file__).with_name("subprocess_clock")


def city_time(text: str) -> datetime:
    """An ISO time as the city's instant; without an offset it is Yichun's wall clock."""
    try:
        return clock.as_city(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"{ENV_CLOCK} must be an ISO time like 2026-04-30T23:30, got {text!r}"
        ) from None


def freeze_session(destination: datetime) -> time_machine.travel:
    """Move every clock of the test session (this process, its subprocesses, PostgreSQL) to
    `destination`, ticking on from there. Call before any database connection is opened."""
    offset = destination.timestamp() - time.time()
    os.environ[ENV_OFFSET] = repr(offset)
    setting = f"-c {clock.OFFSET_SETTING}={offset:.6f}s"
    os.environ["PGOPTIONS"] = " ".join(filter(None, (os.environ.get("PGOPTIONS"), setting)))
    paths = [str(HOOK_DIR), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    traveller = time_machine.travel(destination.timestamp(), tick=True)
    traveller.start()
    time.time()  # time-machine ticks from the first reading: anchor it now (as the subprocesses do)
    return traveller


def travel(destination: datetime) -> time_machine.travel:
    """This process's clock only (the per-test marker; its session moves the database's)."""
    return time_machine.travel(destination.timestamp(), tick=True)


OFFSET_SQL = (
    f"SELECT set_config('{clock.OFFSET_SETTING}', (CAST(:at AS timestamptz) - now())::text, false)"
)
