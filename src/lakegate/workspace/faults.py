"""Deterministic fault injection: 429/500/503 answers, connection resets and delays by path.

A plan is the `--faults` YAML as a dict. Each rule draws from its own seeded generator, so
the same seed gives the same fault sequence for the requests matching that rule, whatever
else the server is doing.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

FAULTS = ("http_429", "http_500", "http_503", "reset", "delay")
TRANSPORT_KEY = "lakegate.transport"  # set in the ASGI scope by server.ResettableH11Protocol
FAULT_KEY = "lakegate.fault"  # what was injected, for the access log
# A callable the access log puts in the scope: write this request's line now. A reset calls it
# before the RST, as a normal answer's line is written before its last byte, so whoever sees
# the outcome can already read the line.
LOG_NOW_KEY = "lakegate.log_now"
_ANSWERS = {
    "http_429": (429, "REQUEST_LIMIT_EXCEEDED", "Too many requests. Please wait and retry."),
    "http_500": (500, "INTERNAL_ERROR", "Injected internal error."),
    "http_503": (503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable."),
}
_RULE_KEYS = {"path", "method", "rate", "every", "fault", "retry_after", "delay_ms"}


class FaultPlanError(ValueError):
    """The faults file does not describe a valid plan."""


@dataclass
class Rule:
    path: str
    fault: str
    method: str | None = None
    rate: float | None = None
    every: int | None = None
    retry_after: float = 1
    delay_ms: int = 200
    rng: random.Random = field(default_factory=random.Random, repr=False)
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(
            path, self.path
        )

    def fires(self) -> bool:
        self.seen += 1
        if self.every is not None:
            return self.seen % self.every == 0
        return self.rng.random() < (self.rate or 0.0)


@dataclass
class FaultPlan:
    seed: int
    rules: list[Rule]

    def pick(self, method: str, path: str) -> Rule | None:
        """The first matching rule that fires for this request, if any."""
        for rule in self.rules:
            if rule.matches(method, path) and rule.fires():
                return rule
        return None


def parse_plan(data: dict[str, Any] | None) -> FaultPlan | None:
    """A FaultPlan from the YAML structure; a FaultPlanError says what is wrong and where."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise FaultPlanError("the faults file must be a mapping with `seed` and `rules`")
    unknown = set(data) - {"seed", "rules"}
    if unknown:
        raise FaultPlanError(f"unknown key(s) {sorted(unknown)}; expected `seed` and `rules`")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise FaultPlanError("`seed` must be an integer")
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        raise FaultPlanError("`rules` must be a list")
    return FaultPlan(seed, [_rule(seed, i, r) for i, r in enumerate(raw_rules)])


def _rule(seed: int, index: int, raw: Any) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise FaultPlanError(f"{where} must be a mapping")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise FaultPlanError(f"{where}: unknown key(s) {sorted(unknown)}")
    path, fault = raw.get("path"), raw.get("fault")
    if not isinstance(path, str) or not path.startswith("/"):
        raise FaultPlanError(f"{where}.path must be a path pattern starting with '/'")
    if fault not in FAULTS:
        raise FaultPlanError(f"{where}.fault must be one of {', '.join(FAULTS)}")
    method = raw.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultPlanError(f"{where}.method must be an HTTP method such as GET")
    rate, every = raw.get("rate"), raw.get("every")
    if (rate is None) == (every is None):
        raise FaultPlanError(f"{where}: give exactly one of `rate` (0..1) or `every` (N)")
    if rate is not None and not (isinstance(rate, int | float) and 0 <= rate <= 1):
        raise FaultPlanError(f"{where}.rate must be a number between 0 and 1")
    if every is not None and not (isinstance(every, int) and every >= 1):
        raise FaultPlanError(f"{where}.every must be a positive integer")
    retry_after, delay_ms = raw.get("retry_after", 1), raw.get("delay_ms", 200)
    if not isinstance(retry_after, int | float) or retry_after < 0:
        raise FaultPlanError(f"{where}.retry_after must be a non-negative number of seconds")
    if not isinstance(delay_ms, int | float) or delay_ms < 0:
        raise FaultPlanError(f"{where}.delay_ms must be a non-negative number")
    return Rule(
        path=path,
        fault=fault,
        method=method.upper() if method else None,
        rate=float(rate) if rate is not None else None,
        every=every,
        retry_after=retry_after,
        delay_ms=int(delay_ms),
        rng=random.Random(f"{seed}:{index}"),
    )


def load_plan(path: Path) -> FaultPlan | None:
    """Read a faults YAML (or JSON) file."""
    from ruamel.yaml import YAML, YAMLError

    try:
        text = path.read_text()
    except OSError as exc:
        raise FaultPlanError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        raise FaultPlanError(f"{path} is not valid YAML: {exc}") from None
    return parse_plan(json.loads(json.dumps(data)) if data is not None else None)


class FaultInjector:
    """ASGI middleware applying the current plan; `plan` may be swapped at any time."""

    def __init__(self, app: ASGIApp, plan: FaultPlan | None = None) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = self.plan
        rule = (
            plan.pick(scope["method"], scope["path"]) if plan and scope["type"] == "http" else None
        )
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope[FAULT_KEY] = rule.fault
        if rule.fault == "delay":
            await asyncio.sleep(rule.delay_ms / 1000)
            await self.app(scope, receive, send)
        elif rule.fault == "reset":
            await _reset(scope)
        else:
            await _answer(rule, send)


async def _answer(rule: Rule, send: Send) -> None:
    status, code, message = _ANSWERS[rule.fault]
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if rule.fault in ("http_429", "http_503"):
        headers.append((b"retry-after", str(rule.retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _reset(scope: Scope) -> None:
    """Close the TCP connection with an RST and no response."""
    transport = scope.get(TRANSPORT_KEY)
    if transport is None:
        raise RuntimeError("reset faults need the server's ResettableH11Protocol")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close() sends RST instead of FIN, like a crashed proxy would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if (log_now := scope.get(LOG_NOW_KEY)) is not None:
        log_now()
    transport.abort()
    # Let connection_lost run so the server knows not to answer this request.
    for _ in range(3):
        await asyncio.sleep(0)
