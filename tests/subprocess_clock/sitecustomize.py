"""Test-only: Python subprocesses of a test session under a frozen city clock travel with it.

tests/cityclock.py puts this folder on PYTHONPATH and the offset (seconds) in
HOUNIAO_TEST_CLOCK_OFFSET; Python imports `sitecustomize` at start-up, so the `houniao` CLI and
uvicorn started by tests see the same instant as the test and the database. Only where the
suite's HOUNIAO_ENV=development holds: a process started as production (the tests of refused
settings) keeps the real clock, and its database connections refuse the shifted one
(geo.core.clock.install_city_zone).
"""

import os

if os.environ.get("HOUNIAO_TEST_CLOCK_OFFSET") and os.environ.get("HOUNIAO_ENV") == "development":
    import time

    try:
        import time_machine
    except ImportError:  # a Python outside the project's environment: not ours to move
        pass
    else:
        offset = float(os.environ["HOUNIAO_TEST_CLOCK_OFFSET"])
        time_machine.travel(time.time() + offset, tick=True).start()
        # time-machine ticks from the first reading, not from start(): read now, or the
        # seconds spent importing (uvicorn, the app) would put this clock behind the test's.
        time.time()
