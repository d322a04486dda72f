"""Instruments the trading benchmarks share: what the embedded AWS endpoint handled (and how
long it took) and how long each Lambda invocation of the local cloud ran.

None of this changes what the product does; it wraps the local harness (moto's WSGI app, the
local cloud's FunctionSpec handlers and instance pools) from the outside.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from localcloud.functions import FunctionSpec


def _no_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("a fetched meter only reports")


@dataclass
class MotoMeter:
    """WSGI middleware around moto's app: requests by X-Amz-Target, time spent answering them
    (wall, so it includes waiting for the GIL), and 5xx answers. In moto's own process
    (`LocalCloud(aws_wrap=("benchmarks._trading:MotoMeter",))`) it answers `GET /localcloud/meter`
    with its figures, which `MotoMeter.fetch` reads."""

    app: Callable[..., Iterable[bytes]]
    counts: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/localcloud/meter":
            start_response("200 OK", [("Content-Type", "application/json")])
            with self._lock:
                figures = {"counts": self.counts, "seconds": self.seconds, "errors": self.errors}
                return [json.dumps(figures).encode()]
        target = environ.get("HTTP_X_AMZ_TARGET", "") or f"{environ.get('REQUEST_METHOD')} (no target)"
        status: list[str] = []

        def recording_start_response(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        start = time.perf_counter()
        try:
            body = list(self.app(environ, recording_start_response))  # moto answers in full here
        except Exception:
            status[:] = ["500 (raised; werkzeug answers it)"]
            raise
        finally:
            self._record(target, time.perf_counter() - start, status)
        return body

    def _record(self, target: str, elapsed: float, status: list[str]) -> None:
        with self._lock:
            self.counts[target] += 1
            self.seconds[target] = self.seconds.get(target, 0.0) + elapsed
            if status and status[0].startswith("5"):
                self.errors[target] += 1

    @classmethod
    def attach(cls, server: Any) -> MotoMeter:
        """Wrap a running `ThreadedMotoServer`'s WSGI app."""
        wsgi = server._server
        if wsgi is None:
            raise SystemExit("moto server is not running")
        meter = cls(wsgi.app)
        wsgi.app = meter
        return meter

    @classmethod
    def fetch(cls, endpoint: str) -> MotoMeter:
        """The figures of a meter running in moto's own process (see the class docstring)."""
        from localcloud.moto_process import meter_snapshot

        figures: Any = meter_snapshot(endpoint)
        return cls(
            app=_no_app,
            counts=Counter(figures["counts"]),
            seconds=dict(figures["seconds"]),
            errors=Counter(figures["errors"]),
        )

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def summary(self, top: int = 8) -> list[str]:
        """Lines: totals, then the busiest targets by time. ReceiveMessage is set apart: its time
        is mostly long-poll waiting (the pollers and the fill tap wait up to 1 s)."""
        with self._lock:
            receives = self.counts.get("AmazonSQS.ReceiveMessage", 0)
            answering = {t: s for t, s in self.seconds.items() if t != "AmazonSQS.ReceiveMessage"}
            total_n, total_s = sum(self.counts.values()) - receives, sum(answering.values())
            errors = sum(self.errors.values())
            lines = [
                f"{total_n} requests besides {receives} ReceiveMessage long polls; {total_s:.1f} s answering them "
                f"(mean {total_s / max(total_n, 1) * 1e3:.1f} ms, wall incl. GIL waits); 5xx answers: "
                f"{errors or 'none'}" + (f" {dict(self.errors)}" if errors else "")
            ]
            for target, seconds in sorted(answering.items(), key=lambda kv: kv[1], reverse=True)[:top]:
                n = self.counts[target]
                name = target.rsplit(".", 1)[-1]
                lines.append(f"{name:<22} {n:>6} x {seconds / n * 1e3:>6.1f} ms = {seconds:>6.1f} s")
        return lines


@dataclass
class FunctionTimer:
    """Times each in-process invocation of the local cloud's functions (inside the per-function
    lock, so it is run time, not time spent queueing for the single instance)."""

    runs: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, functions: dict[str, FunctionSpec]) -> None:
        for logical_id, spec in functions.items():
            if spec.instances is not None:  # runs in instance processes, which report each run time
                spec.instances.on_report = self._record
                continue
            handler = spec.handler()  # imports the module (only after the cloud has started)
            spec._handler = self._timed(logical_id, handler)

    def _record(self, logical_id: str, seconds: float) -> None:
        with self._lock:
            self.runs.setdefault(logical_id, []).append(seconds)

    def _timed(self, logical_id: str, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[..., Any]:
        def timed(event: dict[str, Any], context: Any) -> Any:
            start = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                self._record(logical_id, time.perf_counter() - start)

        return timed

    def snapshot(self) -> dict[str, list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self.runs.items()}


class MotoInstanceTrim(threading.Thread):
    """Empties moto's instance tracker every `interval` seconds.

    Every moto model object (`BaseModel.__new__`) is appended to a class-level list that only
    the server's `/moto-api` dashboard reads (every stored item, every parsed expression, and
    with moto's own TransactWriteItems a full copy of each table it touches per call), so memory
    and garbage-collector work grow as the run goes (and it takes long to exit). That is moto,
    not the product; `reset_model_data()` is moto's own way to drop the tracking.
    """

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(name="moto-instance-trim", daemon=True)
        self.interval = interval
        self.stop_event = threading.Event()
        self.trims = 0

    def run(self) -> None:
        from moto.core.model_instances import reset_model_data

        while not self.stop_event.wait(self.interval):
            reset_model_data()
            self.trims += 1

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def tracked_moto_instances() -> int:
    """How many model objects moto's instance tracker holds right now."""
    from moto.core.model_instances import model_data

    return sum(
        len(getattr(model, "instances_tracked", ())) for models in model_data.values() for model in models.values()
    )
