"""Clients that write through the HTTP API while a fault happens, and log what was acknowledged.

Each writer is one channel account (its own X-API-Key) that alternately files a case (with an
Idempotency-Key) and submits an intake report (with an `external_id`). A write that gets no 2xx
is retried with the same key and body until it does, as a well-behaved client would; the next
write starts only then. Every answer is logged with its time, so a scenario can say what the API
answered while the database was down.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.site import CHANNEL

RETRY_PAUSE = 0.2  # seconds between retries of one write (Retry-After says 1; we are impatient)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "秀英桂兰玉兰淑珍建国志强丽华海燕德明凤英国华春生"


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic()
    kind: str  # "case" | "report"
    status: int  # 0: no HTTP answer at all (transport error)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Ledger:
    """What one writer sent and what the API acknowledged."""

    client: int
    cases: dict[str, int] = field(default_factory=dict)  # acknowledged: Idempotency-Key -> id
    reports: set[str] = field(default_factory=set)  # acknowledged external ids
    attempted_cases: set[str] = field(default_factory=set)
    attempted_reports: set[str] = field(default_factory=set)
    answers: list[Answer] = field(default_factory=list)
    replays: int = 0  # case answers replayed from a stored Idempotency-Key
    unexpected: list[str] = field(default_factory=list)  # bodies of answers neither 2xx nor 503
    refusals: Counter[str] = field(default_factory=Counter)  # the 503s' messages


def case_marker(key: str) -> str:
    """The case description: finds the case by its Idempotency-Key in the database."""
    return f"故障测试 fault test {key}"


class Writers:
    """`clients` threads writing through `base` until `stop()`."""

    def __init__(
        self,
        base: str,
        api_keys: list[str],
        points: list[tuple[float, float]],
        *,
        kinds: tuple[str, ...] = ("case", "report"),
        timeout: float = 20.0,
    ) -> None:
        self.base = base
        self.points = points
        self.kinds = kinds
        self.timeout = timeout
        self.ledgers = [Ledger(i) for i in range(len(api_keys))]
        self._keys = api_keys
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(ledger,), daemon=True)
            for ledger in self.ledgers
        ]

    # -- control ---------------------------------------------------------------------------------

    def __enter__(self) -> Writers:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)

    def wait_acknowledged(self, each: int, timeout: float = 90) -> None:
        """Until every writer has `each` acknowledged writes (raises after `timeout`)."""
        deadline = time.monotonic() + timeout
        while min(len(g.cases) + len(g.reports) for g in self.ledgers) < each:
            if time.monotonic() > deadline:
                raise TimeoutError(f"writers got fewer than {each} acknowledgements each")
            time.sleep(0.05)

    def wait_answer(self, after: float, *, success: bool, timeout: float = 60) -> float:
        """Until some writer got an answer after `after` that is (or is not) a 2xx; its time."""
        deadline = time.monotonic() + timeout
        while True:
            hit = self.first(after, success=success)
            if hit is not None:
                return hit
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no {'successful' if success else 'failed'} write in {timeout} s"
                )
            time.sleep(0.02)

    def first(self, after: float, *, success: bool) -> float | None:
        """The time of the first answer after `after` that is (or is not) a 2xx."""
        times = [a.at for a in self.answers() if a.at > after and a.ok == success]
        return min(times) if times else None

    def answers(self) -> list[Answer]:
        return sorted((a for g in self.ledgers for a in list(g.answers)), key=lambda a: a.at)

    def statuses(self, start: float = 0.0, end: float = float("inf")) -> Counter[int]:
        return Counter(a.status for a in self.answers() if start <= a.at <= end)

    # -- one writer ------------------------------------------------------------------------------

    def _run(self, ledger: Ledger) -> None:
        try:
            self._write(ledger)
        except Exception as exc:  # a writer that died must fail the scenario, not vanish
            ledger.unexpected.append(f"writer crashed: {exc!r}")

    def _write(self, ledger: Ledger) -> None:
        rng = random.Random(ledger.client)
        headers = {"X-API-Key": self._keys[ledger.client]}
        n = 0
        with httpx.Client(base_url=self.base, headers=headers, timeout=self.timeout) as http:
            while not self._stop.is_set():
                kind = self.kinds[n % len(self.kinds)]
                n += 1
                write = self._case(ledger, rng) if kind == "case" else self._report(ledger, rng)
                while not self._stop.is_set():
                    if self._send(http, ledger, kind, write):
                        break
                    self._stop.wait(RETRY_PAUSE)

    def _case(self, ledger: Ledger, rng: random.Random) -> dict[str, Any]:
        key = str(uuid.uuid4())
        ledger.attempted_cases.add(key)
        lon, lat = rng.choice(self.points)
        body = {
            "category": "other",
            "description": case_marker(key),
            "lon": lon,
            "lat": lat,
            "reporter": {"name": "报告人", "phone": f"13{rng.randrange(10**9):09d}"},
        }
        return {"key": key, "body": body}

    def _report(self, ledger: Ledger, rng: random.Random) -> dict[str, Any]:
        external = f"fault-{ledger.client}-{uuid.uuid4().hex[:12]}"
        ledger.attempted_reports.add(external)
        lon, lat = rng.choice(self.points)
        report = {
            "external_id": external,
            "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2)),
            "phone": f"13{rng.randrange(10**9):09d}",
            "birth_year": rng.randrange(1945, 1962),
            "origin": rng.choice(["广东广州", "上海", "浙江杭州", "江苏南京", "四川成都"]),
            "lon": lon + rng.uniform(-1e-4, 1e-4),
            "lat": lat + rng.uniform(-1e-4, 1e-4),
        }
        return {"key": external, "body": {"channel": CHANNEL, "crs": "wgs84", "report": report}}

    def _send(self, http: httpx.Client, ledger: Ledger, kind: str, write: dict[str, Any]) -> bool:
        """One attempt; True when acknowledged (2xx)."""
        try:
            if kind == "case":
                answer = http.post(
                    "/api/v1/cases", json=write["body"], headers={"Idempotency-Key": write["key"]}
                )
            else:
                answer = http.post("/api/v1/intake/reports", json=write["body"])
        except httpx.TransportError:
            ledger.answers.append(Answer(time.monotonic(), kind, 0))
            return False
        ledger.answers.append(Answer(time.monotonic(), kind, answer.status_code))
        if answer.status_code == 503:
            ledger.refusals[answer.json()["detail"]] += 1
            if not answer.headers.get("Retry-After", "").isdigit():
                ledger.unexpected.append(f"{kind} 503 without Retry-After")
        elif answer.status_code not in (200, 201):
            ledger.unexpected.append(f"{kind} {answer.status_code}: {answer.text[:300]}")
        if not answer.is_success:
            return False
        if kind == "case":
            ledger.cases[write["key"]] = answer.json()["case"]["id"]
            ledger.replays += answer.headers.get("Idempotent-Replayed") == "true"
            return True
        (outcome,) = answer.json()["reports"]
        said = outcome.get("status", outcome.get("decision"))  # channels: received | rejected
        if said == "rejected" and "already received" not in outcome.get("reason", ""):
            ledger.unexpected.append(f"report rejected: {outcome}")  # a bad test report
        else:  # taken in now, or by an earlier attempt whose answer was lost
            ledger.reports.add(write["key"])
        return True


class Reader:
    """One client reading in a loop (GET `paths` in turn) until `stop()`; answers logged."""

    def __init__(self, base: str, paths: list[str], headers: dict[str, str]) -> None:
        self.answers: list[Answer] = []
        self.unexpected: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base, paths, headers), daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def statuses(self, start: float = 0.0, end: float = float("inf")) -> Counter[int]:
        return Counter(a.status for a in list(self.answers) if start <= a.at <= end)

    def _run(self, base: str, paths: list[str], headers: dict[str, str]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=20) as http:
            n = 0
            while not self._stop.is_set():
                path = paths[n % len(paths)]
                n += 1
                try:
                    status = http.get(path).status_code
                except httpx.TransportError:
                    status = 0
                self.answers.append(Answer(time.monotonic(), "read", status))
                if status != 200:
                    self.unexpected.append(f"GET {path}: {status}")
                self._stop.wait(0.05)
