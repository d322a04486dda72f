"""Cold start of the trading functions: module import PLUS loading one ccxt exchange class.

The trading functions (trade worker, reconciler, orders and exchange-accounts APIs) import ccxt
lazily, but their first request against a real exchange loads one exchange class the way the
product does, `shared.exchange.ccxt_adapter.exchange_class(...)`, which registers a bare `ccxt`
package and imports only `ccxt.<exchange>` (never ccxt/__init__, which imports every exchange).
So the figure that matters for these functions is import + that class load, measured here in a
fresh child process per run, .pyc present, with the function's Lambda environment (reusing
benchmarks.cold_start). For comparison, in fresh processes too: `import ccxt` (the whole
package), and the light class load alone (only the adapter imported first).

    .venv/bin/python -m benchmarks.trade_cold_start [--runs 7] [--exchange binance]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from benchmarks.cold_start import (
    FIRST_PARTY,
    NETWORK_IO_EVENTS,
    NETWORK_PROBE_CHILD,
    _run,
    _wall_ms,
    interpreter_baseline,
    lambda_environment,
)
from localcloud.template import handler_module, load_template

TARGET_MS = 700.0
TRADING_FUNCTIONS = (
    "TradeWorkerFunction",
    "OrderReconcilerFunction",
    "OrdersApiFunction",
    "ExchangeAccountsApiFunction",
)

# The function's import, then the class load exactly as CcxtExchange.__init__ does it, then (not
# part of the target figure) one instance, which the first exchange call also pays for.
TIMED_CHILD = """\
import os, sys, time, importlib
t0 = time.perf_counter()
importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
from shared.exchange.ccxt_adapter import exchange_class
cls = exchange_class(sys.argv[2])
t2 = time.perf_counter()
cls({"enableRateLimit": True, "timeout": 10000})
t3 = time.perf_counter()
print(f"{(t1 - t0) * 1e3:.3f} {(t2 - t1) * 1e3:.3f} {(t3 - t2) * 1e3:.3f}", flush=True)
os._exit(0)
"""

# The whole ccxt package, as `import ccxt` in application code would load it.
WHOLE_CCXT_CHILD = """\
import os, time, importlib
t0 = time.perf_counter()
importlib.import_module("ccxt")
print(f"{(time.perf_counter() - t0) * 1e3:.3f}", flush=True)
os._exit(0)
"""

# The light path alone: the adapter module (our code + what it imports), then the class.
LIGHT_ONLY_CHILD = """\
import os, sys, time
t0 = time.perf_counter()
from shared.exchange.ccxt_adapter import exchange_class
t1 = time.perf_counter()
exchange_class(sys.argv[1])
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1e3:.3f} {(t2 - t1) * 1e3:.3f}", flush=True)
os._exit(0)
"""

# Two markers, so -X importtime lines can be split into "function import" and "class load".
IMPORTTIME_CHILD = """\
import sys, importlib
sys.stderr.write("@@begin-import\\n")
sys.stderr.flush()
importlib.import_module(sys.argv[1])
sys.stderr.write("@@begin-exchange\\n")
sys.stderr.flush()
from shared.exchange.ccxt_adapter import exchange_class
exchange_class(sys.argv[2])
"""

_IMPORT_LINE = "importlib.import_module(sys.argv[1])\n"
PROBE_CHILD = NETWORK_PROBE_CHILD.replace(
    _IMPORT_LINE,
    _IMPORT_LINE + "from shared.exchange.ccxt_adapter import exchange_class\nexchange_class(sys.argv[2])\n",
    1,
)


@dataclass
class TradingResult:
    logical_id: str
    module: str
    import_ms: list[float] = field(default_factory=list)
    class_ms: list[float] = field(default_factory=list)
    instance_ms: list[float] = field(default_factory=list)
    process_ms: list[float] = field(default_factory=list)
    top: list[tuple[str, float]] = field(default_factory=list)
    self_by_package: list[tuple[str, float]] = field(default_factory=list)
    exchange_self_by_package: list[tuple[str, float]] = field(default_factory=list)
    ccxt_modules: list[tuple[str, float]] = field(default_factory=list)
    network: list[list[str]] = field(default_factory=list)
    error: str = ""

    @property
    def total_ms(self) -> list[float]:
        return [a + b for a, b in zip(self.import_ms, self.class_ms, strict=True)]


@dataclass
class ImportLine:
    depth: int
    self_ms: float
    cumulative_ms: float
    name: str

    @property
    def package(self) -> str:
        return self.name.split(".", 1)[0]


def _lines(section: str) -> list[ImportLine]:
    out = []
    for line in section.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:") :].split("|", 2)
        if len(parts) != 3:
            continue
        raw = parts[2]
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        out.append(ImportLine(depth, float(parts[0]) / 1e3, float(parts[1]) / 1e3, raw.strip()))
    return out


def entry_cumulative(lines: list[ImportLine]) -> list[tuple[str, float]]:
    """Cumulative ms per third-party/stdlib package, counted where the package is first entered
    (an import line with no ancestor of the same package). Unlike cold_start's "names without a
    dot", this sees ccxt: the light loader imports `ccxt.binance` with no `ccxt` line at all."""
    totals: dict[str, float] = defaultdict(float)
    stack: list[str] = []
    for line in reversed(lines):  # importtime is post-order; reversed, parents come first
        del stack[line.depth :]
        if line.package not in stack and line.package not in FIRST_PARTY:
            totals[line.package] += line.cumulative_ms
        stack.append(line.package)
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)


def self_by_package(lines: list[ImportLine]) -> list[tuple[str, float]]:
    sums: dict[str, float] = defaultdict(float)
    for line in lines:
        sums[line.package] += line.self_ms
    return sorted(sums.items(), key=lambda kv: kv[1], reverse=True)


def profile(result: TradingResult, env: dict[str, str], exchange: str) -> None:
    """One -X importtime run (split at the markers) and one socket probe; neither is timed."""
    stderr = _run(["-X", "importtime", "-c", IMPORTTIME_CHILD, result.module, exchange], env).stderr
    _, _, after = stderr.partition("@@begin-import\n")
    function_part, _, exchange_part = after.partition("@@begin-exchange\n")
    everything = _lines(function_part) + _lines(exchange_part)
    result.top = entry_cumulative(everything)[:5]
    result.self_by_package = self_by_package(everything)
    exchange_lines = _lines(exchange_part)
    result.exchange_self_by_package = self_by_package(exchange_lines)
    result.ccxt_modules = sorted(
        ((line.name, line.self_ms) for line in exchange_lines if line.package == "ccxt"),
        key=lambda kv: kv[1],
        reverse=True,
    )[:5]
    probe = _run(["-c", PROBE_CHILD, result.module, exchange], env)
    if probe.returncode == 0:
        result.network = json.loads(probe.stdout.strip().splitlines()[-1])["audit"]
    else:
        result.error = "network probe failed: " + probe.stderr.strip()[-200:]


def time_once(result: TradingResult, env: dict[str, str], exchange: str) -> None:
    wall, proc = _wall_ms(["-c", TIMED_CHILD, result.module, exchange], env)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        result.error = lines[-1] if lines else f"exit status {proc.returncode}"
        return
    imported, loaded, instance = (float(x) for x in proc.stdout.strip().splitlines()[-1].split())
    result.import_ms.append(imported)
    result.class_ms.append(loaded)
    result.instance_ms.append(instance)
    result.process_ms.append(wall)


def warm_up(result: TradingResult, env: dict[str, str], exchange: str) -> None:
    """One untimed run: writes .pyc (a deployed layer ships them) and proves it all loads."""
    proc = _run(["-c", TIMED_CHILD, result.module, exchange], env)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        result.error = lines[-1] if lines else f"exit status {proc.returncode}"


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(
    results: list[TradingResult],
    whole: list[float],
    light: list[tuple[float, float]],
    baseline: list[float],
    runs: int,
    exchange: str,
) -> None:
    print(
        f"\nTrading functions' cold start: module import + exchange_class({exchange!r}) in a fresh interpreter, "
        f".pyc present, median of {runs} runs"
    )
    print(f"Interpreter baseline (`python -c pass`, wall incl. spawn): median {_median(baseline):.1f} ms\n")
    header = (
        f"{'function':<28} {'import':>7} {'+class':>7} {'= total':>8} {'min':>7} {'target':>7} "
        f"{'process':>8} {'+instance':>9}  top 5 imports, cumulative ms"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if not r.import_ms:
            print(f"{r.logical_id:<28} ERROR: {r.error}")
            continue
        total = _median(r.total_ms)
        flag = "" if total <= TARGET_MS else " *"
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in r.top)
        print(
            f"{r.logical_id:<28} {_median(r.import_ms):>7.1f} {_median(r.class_ms):>7.1f} {total:>8.1f} "
            f"{min(r.total_ms):>7.1f} {TARGET_MS:>5.0f}ms {_median(r.process_ms):>8.1f} "
            f"{_median(r.instance_ms):>9.1f}  {top}{flag}"
        )
    print(
        "\n(ms. 'import' = the function module; '+class' = exchange_class() right after it in the same process;\n"
        " 'total' = the two, the figure held against the target (* = above it); 'process' = wall time of the\n"
        " whole child: spawn + interpreter + import + class + instance; '+instance' = constructing one\n"
        f" ccxt.{exchange} client, which CcxtExchange.__init__ also does (not in the total).)"
    )

    print("\nFor comparison, each in a fresh interpreter (median / min of runs, ms):")
    print(f"  `import ccxt` (whole package, every exchange)          {_median(whole):>7.1f} / {min(whole):.1f}")
    adapter = [a for a, _ in light]
    cls = [c for _, c in light]
    print(f"  light path alone: import shared.exchange.ccxt_adapter {_median(adapter):>7.1f} / {min(adapter):.1f}")
    print(
        f"                    then exchange_class({exchange!r})       {_median(cls):>7.1f} / {min(cls):.1f}"
        f"   (total {_median([a + c for a, c in light]):.1f})"
    )

    print(
        "\nTop five packages by cumulative time where first entered, import + class load (-X importtime, one run; ms):"
    )
    for r in results:
        if r.top:
            print(f"  {r.logical_id:<28} " + ", ".join(f"{name} {ms:.1f}" for name, ms in r.top))
    print("\nSelf time summed per top-level package, import + class load (non-overlapping, ms):")
    for r in results:
        if r.self_by_package:
            total = sum(ms for _, ms in r.self_by_package)
            parts = ", ".join(f"{name} {ms:.0f}" for name, ms in r.self_by_package[:8])
            print(f"  {r.logical_id:<28} total {total:.0f}: {parts}")
    print(
        "\nThe class load alone, after the function's import: self time per package, and ccxt's costliest modules (ms):"
    )
    for r in results:
        if r.exchange_self_by_package:
            total = sum(ms for _, ms in r.exchange_self_by_package)
            parts = ", ".join(f"{name} {ms:.1f}" for name, ms in r.exchange_self_by_package[:5])
            mods = ", ".join(f"{name} {ms:.1f}" for name, ms in r.ccxt_modules)
            print(f"  {r.logical_id:<28} total {total:.0f}: {parts}\n  {'':<28} {mods}")
    print("  (importtime figures are inflated by the profiling itself; use them to rank, not to add up)")

    print("\nSockets during import + class load (I/O = connect/send/DNS):")
    for r in results:
        io = [e for e in r.network if e[0] in NETWORK_IO_EVENTS]
        note = f"; {r.error}" if r.error else ""
        print(f"  {r.logical_id:<28} network I/O: {len(io) or 'none'}; socket events: {len(r.network)}{note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per function (default 7)")
    parser.add_argument("--exchange", default="binance", help="exchange class to load (default binance)")
    args = parser.parse_args(argv)

    template = load_template()
    envs = {logical_id: lambda_environment(template, logical_id) for logical_id in TRADING_FUNCTIONS}
    results = [TradingResult(logical_id, handler_module(template, logical_id)[0]) for logical_id in TRADING_FUNCTIONS]
    reference_env = envs["TradeWorkerFunction"]
    print("warming up (writes .pyc) ...", file=sys.stderr, flush=True)
    for r in results:
        warm_up(r, envs[r.logical_id], args.exchange)
    _run(["-c", WHOLE_CCXT_CHILD], reference_env)
    whole: list[float] = []
    light: list[tuple[float, float]] = []
    # Round-robin, so a burst of load elsewhere on the machine spreads over every measurement.
    for n in range(args.runs):
        print(f"timed round {n + 1}/{args.runs} ...", file=sys.stderr, flush=True)
        for r in results:
            if not r.error:
                time_once(r, envs[r.logical_id], args.exchange)
        whole.append(float(_run(["-c", WHOLE_CCXT_CHILD], reference_env).stdout.split()[-1]))
        adapter_ms, class_ms = _run(["-c", LIGHT_ONLY_CHILD, args.exchange], reference_env).stdout.split()[-2:]
        light.append((float(adapter_ms), float(class_ms)))
    print("profiling (-X importtime, network probe) ...", file=sys.stderr, flush=True)
    for r in results:
        if not r.error:
            profile(r, envs[r.logical_id], args.exchange)
    report(results, whole, light, interpreter_baseline(args.runs), args.runs, args.exchange)


if __name__ == "__main__":
    main()
