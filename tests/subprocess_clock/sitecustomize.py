"""Test-only: Python subprocesses of a test session under a frozen city clock travel with it.

tests/cityclock.py puts this folder on PYTHONPATH and the offset (seconds) in
HOUNIAO_TEST_CLOCK_OFFSET; Python imports `sitecustomize` at start-up, so the `houniao` CLI and
uvicorn started by tests see the same instant as the test and the database. Never in production.
"""

import os

_offset = os.environ.get("HOUNIAO_TEST_CLOCK_OFFSET")
if _offset:
    if os.environ.get("HOUNIAO_ENV") != "development":  # the test suite names development
        raise RuntimeError("HOUNIAO_TEST_CLOCK_OFFSET shifts the clock: tests only, not production")
    import time

    try:
        import time_machine
    except ImportError:  # a Python outside the project's environment: not ours to move
        time_machine = None
    if time_machine is not None:
        time_machine.travel(time.time() + float(_offset), tick=True).start()
        # time-machine ticks from the first reading, not from start(): read now, or the
        # seconds spent importing (uvicorn, the app) would put this clock behind the test's.
        time.time()
