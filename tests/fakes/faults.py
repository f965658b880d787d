"""Random platform faults in front of any fake: an ASGI wrapper for the reliability runs.

`FaultInjector(app, rate=0.2)` answers about a fifth of the requests whose path starts
with one of `paths` (and method is one of `methods`) with a fault instead of (or on top
of) the fake's own answer:

- `timeout`: holds the request `timeout_s`, then answers 504, as a proxy in front of a
  platform does when the platform does not answer in time (the platform never saw it);
- `5xx`: 500, 502 or 503 at once (the platform never saw it);
- `429`: Too Many Requests with `Retry-After: retry_after_s` (never saw it);
- `malformed`: the platform handles the request (its effect happens), then the body of its
  answer is cut short so it is not valid JSON, as a truncated proxy response would be.

Every injected fault is recorded (`InjectedFault`, with the request body so a run can tell
which workflow it hit); `decide` is seeded so a run can be repeated. Unlike
`tests/fakes/common.FaultPlan` (scripted faults for one test), this draws faults at random.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio

__all__ = ["FAULT_KINDS", "FaultInjector", "FaultKind", "InjectedFault"]

FaultKind = Literal["timeout", "5xx", "429", "malformed"]
FAULT_KINDS: tuple[FaultKind, ...] = ("timeout", "5xx", "429", "malformed")

Scope = dict[str, Any]
Message = dict[str, Any]


@dataclass(frozen=True)
class InjectedFault:
    kind: FaultKind
    method: str
    path: str
    status: int
    body: bytes  # the request's body
    at: float  # time.time()


class FaultInjector:
    """ASGI middleware: `FaultInjector(fake.app(), rate=0.2, seed=1)`."""

    def __init__(
        self,
        app: Any,
        *,
        rate: float = 0.2,
        kinds: Sequence[FaultKind] = FAULT_KINDS,
        paths: Sequence[str] = ("/",),
        methods: Sequence[str] = ("GET", "POST", "PUT", "PATCH", "DELETE"),
        timeout_s: float = 1.0,
        retry_after_s: float = 1.0,
        seed: int | None = None,
        cycle_kinds: bool = False,
    ) -> None:
        """`cycle_kinds` gives faulted requests the kinds in turn rather than at random
        (a short run then meets every kind)."""
        if not 0 <= rate <= 1:
            raise ValueError(f"fault rate must be between 0 and 1, not {rate}")
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {FAULT_KINDS}, not {list(kinds)}")
        self.app = app
        self.rate = rate
        self.kinds = tuple(kinds)
        self.paths = tuple(paths)
        self.methods = frozenset(m.upper() for m in methods)
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.injected: list[InjectedFault] = []
        self.requests = 0  # every request on a faultable path, faulted or not
        self.enabled = True
        self._rng = random.Random(seed)
        self._cycle = itertools.cycle(self.kinds) if cycle_kinds else None
        self._lock = threading.Lock()  # the server's thread and the test's read the log

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(f.kind for f in self.injected)

    def decide(self, method: str, path: str) -> FaultKind | None:
        """The fault for a request, or None to let it through untouched."""
        if not self.enabled or method not in self.methods or not path.startswith(self.paths):
            return None
        with self._lock:
            self.requests += 1
            if self._rng.random() >= self.rate:
                return None
            return next(self._cycle) if self._cycle else self._rng.choice(self.kinds)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = self.decide(scope["method"], scope["path"])
        if kind is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replayer(body)
        if kind == "malformed":
            status = await self._malformed(scope, replay, send)
        else:
            status = {"timeout": 504, "429": 429}.get(kind) or self._rng.choice((500, 502, 503))
            if kind == "timeout":
                await anyio.sleep(self.timeout_s)
            headers = {"Retry-After": f"{self.retry_after_s:g}"} if kind == "429" else {}
            await _answer(send, status, {"message": f"injected {kind} fault"}, headers)
        with self._lock:
            self.injected.append(
                InjectedFault(kind, scope["method"], scope["path"], status, body, time.time())
            )

    async def _malformed(self, scope: Scope, receive: Any, send: Any) -> int:
        """Run the real handler, then send its status with half of its body."""
        status = 200
        chunks: list[bytes] = []
        headers: list[tuple[bytes, bytes]] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"content-length"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        full = b"".join(chunks) or b'{"ok": true}'
        cut = full[: max(1, len(full) // 2)]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(cut)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": cut})
        return status


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replayer(body: bytes) -> Any:
    """A `receive` that hands the already-read body to the wrapped app."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()  # a disconnect never comes: the answer is ours to send
        raise AssertionError("unreachable")

    return receive


async def _answer(send: Any, status: int, payload: Any, headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
