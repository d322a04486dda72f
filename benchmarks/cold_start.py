"""Cold start: how long each Lambda function's module takes to import in a fresh interpreter.

Lambda's init phase is interpreter start + `import app` (+ layers on sys.path); the import part
is what our code controls, so it is measured inside a fresh child process per run, with .pyc
already written (a deployed layer ships precompiled .pyc). The child gets the environment the
function would have on Lambda (template variables with literal stand-ins for Refs, plus what the
Lambda runtime itself sets), so powertools decides exactly as it would there (e.g. the Tracer
enables itself and patches botocore because LAMBDA_TASK_ROOT is set).

Goals are ratios to floors measured in the same run (this machine is shared and noisy): every API
function's import against a minimal FastAPI + Mangum app with 8 routes, every worker's against a
minimal powertools + botocore handler (goal: at most 1.15x each). The floors are generated here
and timed in the same round-robin, with the same Lambda-like environment.

Also reported, once per function: the five costliest top-level packages from `-X importtime`,
and any socket activity during import (an import must never touch the network).

    .venv/bin/python -m benchmarks.cold_start [--runs 7] [--functions BotsApiFunction ...] [--built]

With `--built` (after `make sam-check`), every child imports from the `sam build` output alone, as
Lambda does: a fresh interpreter without site-packages (`-S -I`), the function's own directory and
its layers on the path, the floors on the common layer. Without it, the developer's virtualenv is
used, which holds packages no layer ships (PynamoDB, for one, then finds and imports blinker).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.template import handler_module, load_template, resources_of_type

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 400.0
RATIO_GOAL = 1.15
FLOOR_API = "FloorFastApiMangum"
FLOOR_WORKER = "FloorPowertoolsBotocore"
# The floors: what any function of that kind needs at the least, with nothing of ours.
FLOOR_SOURCES = {
    "floor_fastapi_mangum": """\
from typing import Any
from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI(title="floor")


class Item(BaseModel):
    id: str
    name: str


def _route(n: int) -> None:
    @app.get(f"/items{n}/{{item_id}}", name=f"get{n}")
    async def get(item_id: str) -> Item:
        return Item(id=item_id, name="x")


for _n in range(8):
    _route(_n)
handler = Mangum(app, lifespan="off")


def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handler(event, context)
""",
    "floor_powertools_botocore": """\
from typing import Any
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.session import get_session

logger, tracer, metrics = Logger(), Tracer(patch_modules=["botocore"]), Metrics()
session = get_session()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return session.create_client("sqs", region_name="us-east-1")
""",
}
# The declared stack's floors: what any of our functions must import before a line of our code
# (the floors above plus PynamoDB and, for API functions, powertools and botocore): the ratio to
# them is what our own modules cost. Reported beside the goal's ratios, never instead of them.
STACK_FLOOR_API = "FloorApiStack"
STACK_FLOOR_WORKER = "FloorWorkerStack"
FLOOR_SOURCES["floor_api_stack"] = (
    FLOOR_SOURCES["floor_fastapi_mangum"]
    + """
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.session import get_session
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

logger, tracer, metrics = Logger(), Tracer(patch_modules=["botocore"]), Metrics()
session = get_session()


class Row(Model):
    class Meta:
        table_name = "rows"

    pk = UnicodeAttribute(hash_key=True)
"""
)
FLOOR_SOURCES["floor_worker_stack"] = (
    FLOOR_SOURCES["floor_powertools_botocore"]
    + """
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from pydantic import BaseModel
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

processor = BatchProcessor(event_type=EventType.SQS)


class Task(BaseModel):
    id: str
    kind: str


class Row(Model):
    class Meta:
        table_name = "rows"

    pk = UnicodeAttribute(hash_key=True)
"""
)
REGION = "us-east-1"
FIRST_PARTY = frozenset({"functions", "shared"})

# Stand-ins for what the template's Refs would resolve to once deployed, by variable name.
REF_STAND_INS: dict[str, str] = {
    "TENANTS_TABLE": "Tenants",
    "USERS_TABLE": "Users",
    "API_KEYS_TABLE": "ApiKeys",
    "BOTS_TABLE": "Bots",
    "EVENTS_TABLE": "Events",
    "IDEMPOTENCY_TABLE": "Idempotency",
    "EVENT_BUS_NAME": "bus",
    "JWT_SECRET_ARN": f"arn:aws:secretsmanager:{REGION}:123456789012:secret:x",
    # Backtests (issue 9)
    "BACKTESTS_TABLE": "Backtests",
    "BACKTEST_JOBS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/backtest-jobs",
    "BACKTEST_DATA_BUCKET": "backtest-data",
}

# Times one import; nothing is imported before the clock starts beyond what `-c` needs. Exits
# with os._exit: interpreter teardown (~0.2 s with all this loaded) is no part of a Lambda init.
TIMED_CHILD = """\
import os, sys, time, importlib
start = time.perf_counter()
importlib.import_module(sys.argv[1])
print(f"{(time.perf_counter() - start) * 1000.0:.3f}", flush=True)
os._exit(0)
"""

# Marks where the function's import begins so startup imports can be told apart in -X importtime.
IMPORTTIME_CHILD = """\
import sys, importlib
sys.stderr.write("@@begin-import\\n")
sys.stderr.flush()
importlib.import_module(sys.argv[1])
"""

# Records socket/HTTP audit events during the import, with the code that caused each one
# (a separate run: audit hooks slow every import down).
NETWORK_PROBE_CHILD = """\
import sys, json, threading
seen = []
WATCH = ("socket.", "http.client.", "urllib.Request", "ssl.")
SKIP = ("socket.py", "<frozen", "<string>")
def where():
    frame, out = sys._getframe(2), []
    while frame is not None and len(out) < 2:
        name = frame.f_code.co_filename
        if not name.endswith(SKIP) and not name.startswith(SKIP):
            short = name.split("site-packages/")[-1].split("/lib/python3.11/")[-1]
            out.append(f"{short}:{frame.f_lineno}")
        frame = frame.f_back
    return " <- ".join(out)
def hook(event, args):
    if event.startswith(WATCH):
        seen.append([event, repr(args[1:])[:80], where()])
sys.addaudithook(hook)
import importlib
importlib.import_module(sys.argv[1])
threads = sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())
print(json.dumps({"audit": seen, "threads": threads}))
"""

# Audit events that mean traffic (or a DNS lookup) rather than just a socket object being made.
NETWORK_IO_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "http.client.connect",
        "http.client.send",
        "urllib.Request",
    }
)


@dataclass
class FunctionResult:
    logical_id: str
    module: str
    import_ms: list[float] = field(default_factory=list)
    untraced_ms: list[float] = field(default_factory=list)  # same, POWERTOOLS_TRACE_DISABLED=true
    process_ms: list[float] = field(default_factory=list)
    top_cumulative: list[tuple[str, float, float]] = field(default_factory=list)
    self_by_package: list[tuple[str, float]] = field(default_factory=list)
    first_party: list[tuple[str, float]] = field(default_factory=list)
    floor: str = ""  # the floor this function is compared with
    stack_floor: str = ""  # the declared stack's floor of its kind (see STACK_FLOOR_API)
    network: list[list[str]] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)
    error: str = ""


def _literal(value: Any, name: str, template: dict[str, Any]) -> str:
    """A template variable's value with Refs replaced by literals (nothing is provisioned here)."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        ref = str(value["Ref"])
        params = template.get("Parameters", {})
        if ref in params:
            return str(params[ref].get("Default", ""))
        return REF_STAND_INS.get(name, ref)
    return REF_STAND_INS.get(name, f"unresolved-{name.lower()}")


def lambda_environment(template: dict[str, Any], logical_id: str) -> dict[str, str]:
    """What a deployed function's process would see: template variables plus the runtime's own."""
    globals_fn = template.get("Globals", {}).get("Function", {})
    props = template["Resources"][logical_id]["Properties"]
    memory = str(props.get("MemorySize", globals_fn.get("MemorySize", 128)))
    handler = str(props.get("Handler", globals_fn.get("Handler", "app.lambda_handler")))
    env: dict[str, str] = {
        # Set by the Lambda runtime (values shaped like the real ones; credentials are fake).
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"co-{logical_id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/co-{logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "LAMBDA_TASK_ROOT": str(ROOT),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": handler,
        "AWS_ACCESS_KEY_ID": "ASIAFAKEFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret-access-key-for-benchmarks-only",
        "AWS_SESSION_TOKEN": "fake-session-token",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0",
    }
    for scope in (globals_fn, props):
        for name, value in scope.get("Environment", {}).get("Variables", {}).items():
            env[name] = _literal(value, name, template)
    return env


BUILD = ROOT / ".aws-sam" / "build"
PATHS_VARIABLE = "COLD_START_PATHS"  # built mode: the child's sys.path entries (os.pathsep-separated)
# Put first on the child's path before anything else runs; `-I` ignores PYTHONPATH.
PATH_SETUP = f"import os, sys; sys.path[:0] = [p for p in os.environ['{PATHS_VARIABLE}'].split(os.pathsep) if p]\n"


def built_paths(template: dict[str, Any], logical_id: str) -> list[str]:
    """The function's built code directory and its layers' `python/` directories, as on Lambda."""
    props = template["Resources"][logical_id]["Properties"]
    layers = [*template.get("Globals", {}).get("Function", {}).get("Layers", []), *props.get("Layers", [])]
    return [str(BUILD / logical_id), *(str(BUILD / layer["Ref"] / "python") for layer in layers)]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if PATHS_VARIABLE in env:
        code_at = args.index("-c") + 1
        args = ["-S", "-I", *args[:code_at], PATH_SETUP + args[code_at], *args[code_at + 1 :]]
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _wall_ms(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = _run(args, env)
    return (time.perf_counter() - start) * 1000.0, proc


@dataclass
class ImportProfile:
    """What one `-X importtime` run says about the function's import (ms)."""

    top_cumulative: list[tuple[str, float, float]]  # third-party/stdlib top-level: name, self, cumulative
    self_by_package: list[tuple[str, float]]  # self time summed per top-level package
    first_party: list[tuple[str, float]]  # our own modules by self time


def parse_importtime(stderr: str) -> ImportProfile:
    """Parse `-X importtime` lines after the marker (the interpreter's own startup is excluded)."""
    _, _, after = stderr.partition("@@begin-import\n")
    top: list[tuple[str, float, float]] = []
    self_sum: dict[str, float] = defaultdict(float)
    ours: list[tuple[str, float]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:") :].split("|", 2)
        if len(parts) != 3:
            continue
        self_us, cumulative_us, name = float(parts[0]), float(parts[1]), parts[2].strip()
        package = name.split(".", 1)[0]
        self_sum[package] += self_us / 1000.0
        if package in FIRST_PARTY:
            ours.append((name, self_us / 1000.0))
        elif "." not in name:
            top.append((name, self_us / 1000.0, cumulative_us / 1000.0))
    top.sort(key=lambda row: row[2], reverse=True)
    by_package = sorted(self_sum.items(), key=lambda kv: kv[1], reverse=True)
    ours.sort(key=lambda row: row[1], reverse=True)
    return ImportProfile(top[:5], by_package, ours[:5])


def warm_up(result: FunctionResult, env: dict[str, str]) -> None:
    """One untimed import: writes .pyc (as a deployed layer ships them) and proves it imports."""
    warm = _run(["-c", TIMED_CHILD, result.module], env)
    if warm.returncode != 0:
        lines = warm.stderr.strip().splitlines()
        result.error = lines[-1] if lines else f"exit status {warm.returncode}"


def time_once(result: FunctionResult, env: dict[str, str], *, untraced: bool) -> None:
    """One timed import; with `untraced`, also one with the Tracer disabled (no X-Ray patching)."""
    wall, proc = _wall_ms(["-c", TIMED_CHILD, result.module], env)
    result.import_ms.append(float(proc.stdout.strip().splitlines()[-1]))
    result.process_ms.append(wall)
    if untraced:
        proc = _run(["-c", TIMED_CHILD, result.module], {**env, "POWERTOOLS_TRACE_DISABLED": "true"})
        result.untraced_ms.append(float(proc.stdout.strip().splitlines()[-1]))


def profile(result: FunctionResult, env: dict[str, str]) -> None:
    """One `-X importtime` run and one network-probe run (neither is part of the timings)."""
    found = parse_importtime(_run(["-X", "importtime", "-c", IMPORTTIME_CHILD, result.module], env).stderr)
    result.top_cumulative, result.self_by_package = found.top_cumulative, found.self_by_package
    result.first_party = found.first_party
    probe = _run(["-c", NETWORK_PROBE_CHILD, result.module], env)
    if probe.returncode == 0:
        seen = json.loads(probe.stdout.strip().splitlines()[-1])
        result.network, result.threads = seen["audit"], seen["threads"]
    else:
        result.error = "network probe failed: " + probe.stderr.strip()[-200:]


def interpreter_baseline(runs: int) -> list[float]:
    """Wall time of `python -c pass` (process spawn + interpreter + site), for context."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8"}
    return [_wall_ms(["-c", "pass"], env)[0] for _ in range(runs)]


def _fmt_top(top: list[tuple[str, float, float]]) -> str:
    return ", ".join(f"{name} {cum:.0f}" for name, _, cum in top)


def report(results: list[FunctionResult], baseline: list[float], runs: int) -> None:
    print(f"\nCold start: module import in a fresh interpreter, .pyc present, median of {runs} runs")
    print(
        f"Interpreter baseline (`python -c pass`, wall incl. spawn): median {statistics.median(baseline):.1f} ms, "
        f"min {min(baseline):.1f} ms  [{sys.executable}]\n"
    )
    header = (
        f"{'function':<22} {'module':<26} {'median ms':>9} {'min ms':>8} {'target':>7} "
        f"{'process ms':>10} {'no-trace ms':>11}  top 5 imports, cumulative ms"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.error and not r.import_ms:
            print(f"{r.logical_id:<22} {r.module:<26} ERROR: {r.error}")
            continue
        median = statistics.median(r.import_ms)
        flag = "" if median <= TARGET_MS else " *"
        floor = next((f for f in results if f.logical_id == r.floor and f.import_ms), None)
        ratio = f" {median / statistics.median(floor.import_ms):.2f}x {r.floor}" if floor else ""
        untraced = f"{statistics.median(r.untraced_ms):>11.1f}" if r.untraced_ms else f"{'-':>11}"
        print(
            f"{r.logical_id:<22} {r.module:<26} {median:>9.1f} {min(r.import_ms):>8.1f} "
            f"{TARGET_MS:>5.0f}ms {statistics.median(r.process_ms):>10.1f} {untraced}  "
            f"{_fmt_top(r.top_cumulative)}{flag}{ratio}"
        )
    print(
        "\n(* = median above target. 'process ms' = median wall time of the whole child process: spawn +"
        " interpreter + import (exit skipped).\n 'no-trace ms' = median import with POWERTOOLS_TRACE_DISABLED=true: "
        "the difference is the Tracer's X-Ray setup and botocore patching at import.\n importtime "
        "figures are inflated by the profiling itself; use them to rank, not to add up.)"
    )

    _report_ratios(results)
    _report_profiles(results)
    _report_sockets(results)


def _report_ratios(results: list[FunctionResult]) -> None:
    floors = {
        r.logical_id: statistics.median(r.import_ms)
        for r in results
        if r.logical_id in (FLOOR_API, FLOOR_WORKER, STACK_FLOOR_API, STACK_FLOOR_WORKER) and r.import_ms
    }
    print(f"\nRatios to the floors measured in this run (goal <= {RATIO_GOAL}x the first floor):")
    for name, ms in floors.items():
        print(f"  {name:<26} {ms:7.1f} ms (floor)")
    for r in results:
        if r.floor in floors and r.import_ms:
            median = statistics.median(r.import_ms)
            ratio = median / floors[r.floor]
            verdict = "ok" if ratio <= RATIO_GOAL else "above goal"
            stack = ""
            if r.stack_floor in floors:
                own = median - floors[r.stack_floor]
                stack = f"  {median / floors[r.stack_floor]:5.2f}x {r.stack_floor} (ours: {own:+.0f} ms)"
            print(f"  {r.logical_id:<26} {median:7.1f} ms  {ratio:5.2f}x {r.floor:<24} {verdict:<10}{stack}")


def _report_profiles(results: list[FunctionResult]) -> None:
    print("\nTop five top-level imports by cumulative time (-X importtime, one run; ms, self / cumulative):")
    for r in results:
        if r.top_cumulative:
            parts = ", ".join(f"{name} {own:.1f}/{cum:.1f}" for name, own, cum in r.top_cumulative)
            print(f"  {r.logical_id:<22} {parts}")
    print(
        "  (cumulative includes whatever a package is the first to import, e.g. fastapi -> starlette, "
        "pydantic, asyncio)"
    )

    print("\nSelf time summed per top-level package during the import (non-overlapping, ms):")
    for r in results:
        if r.self_by_package:
            total = sum(ms for _, ms in r.self_by_package)
            parts = ", ".join(f"{name} {ms:.0f}" for name, ms in r.self_by_package[:8])
            print(f"  {r.logical_id:<22} total {total:.0f}: {parts}")
    print("\nOur own modules with the most self time (class bodies, pydantic model building, module code; ms):")
    for r in results:
        if r.first_party:
            print(f"  {r.logical_id:<22} " + ", ".join(f"{name} {ms:.1f}" for name, ms in r.first_party))


def _report_sockets(results: list[FunctionResult]) -> None:
    print(
        "\nSockets during import (audit hooks socket.*, http.client.*, urllib.Request, ssl.*; I/O = connect/send/DNS):"
    )
    for r in results:
        if r.error and r.import_ms:
            print(f"  {r.logical_id:<22} {r.error}")
            continue
        io = [e for e in r.network if e[0] in NETWORK_IO_EVENTS]
        print(
            f"  {r.logical_id:<22} network I/O: {len(io) or 'none'}; socket events: {len(r.network)}; "
            f"extra threads: {', '.join(r.threads) or 'none'}"
        )
    distinct: dict[tuple[str, str, str], set[str]] = {}
    for r in results:
        for event, args, origin in r.network:
            distinct.setdefault((event, args, origin), set()).add(r.logical_id)
    for (event, args, origin), ids in distinct.items():
        kind = "I/O" if event in NETWORK_IO_EVENTS else "local"
        print(f"    [{kind}] {event}{args} at {origin}  ({len(ids)} function(s))")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7, help="timed imports per function (default 7)")
    parser.add_argument(
        "--skip-untraced", action="store_true", help="skip the comparison run with POWERTOOLS_TRACE_DISABLED=true"
    )
    parser.add_argument("--functions", nargs="*", help="logical ids (default: every function in template.yaml)")
    parser.add_argument("--built", action="store_true", help="import from the `make sam-check` build, as on Lambda")
    args = parser.parse_args(argv)

    if args.built and not (BUILD / "template.yaml").exists():
        raise SystemExit(f"{BUILD} has no build: run `make sam-check` first")
    template = load_template(BUILD / "template.yaml") if args.built else load_template()
    ids = list(resources_of_type(template, "AWS::Serverless::Function"))
    if args.functions:
        ids = [i for i in ids if i in set(args.functions)]
    envs = {logical_id: lambda_environment(template, logical_id) for logical_id in ids}
    if args.built:
        for logical_id in ids:
            envs[logical_id][PATHS_VARIABLE] = os.pathsep.join(built_paths(template, logical_id))
    module_of = {i: "app" if args.built else handler_module(template, i)[0] for i in ids}
    results = [FunctionResult(logical_id, module_of[logical_id]) for logical_id in ids]
    api_functions = {
        name
        for name, spec in resources_of_type(template, "AWS::Serverless::Function").items()
        if any(e.get("Type") == "Api" for e in spec["Properties"].get("Events", {}).values())
    }
    for r in results:
        r.floor = FLOOR_API if r.logical_id in api_functions else FLOOR_WORKER
        r.stack_floor = STACK_FLOOR_API if r.logical_id in api_functions else STACK_FLOOR_WORKER
    floor_dir = Path(tempfile.mkdtemp(prefix="cold-start-floors-"))
    for module, source in FLOOR_SOURCES.items():
        (floor_dir / f"{module}.py").write_text(source)
    reference = ids[0] if ids else ""
    floors = (
        (STACK_FLOOR_API, "floor_api_stack"),
        (STACK_FLOOR_WORKER, "floor_worker_stack"),
        (FLOOR_API, "floor_fastapi_mangum"),
        (FLOOR_WORKER, "floor_powertools_botocore"),
    )
    for name, module in floors:
        env = {**(envs[reference] if reference else {}), "PYTHONPATH": str(floor_dir)}
        if args.built:
            env[PATHS_VARIABLE] = os.pathsep.join([str(floor_dir), str(BUILD / "CommonLayer" / "python")])
        envs[name] = {**env, "POWERTOOLS_SERVICE_NAME": "floor"}
        results.insert(0, FunctionResult(name, module))
    print("warming up (writes .pyc) ...", file=sys.stderr, flush=True)
    for r in results:
        warm_up(r, envs[r.logical_id])
    live = [r for r in results if not r.error]
    # Round-robin, so a burst of load elsewhere on the machine spreads over every function.
    for n in range(args.runs):
        print(f"timed round {n + 1}/{args.runs} ...", file=sys.stderr, flush=True)
        for r in live:
            time_once(r, envs[r.logical_id], untraced=not args.skip_untraced)
    print("profiling (-X importtime, network probe) ...", file=sys.stderr, flush=True)
    for r in live:
        profile(r, envs[r.logical_id])
    baseline = interpreter_baseline(args.runs)
    report(results, baseline, args.runs)


if __name__ == "__main__":
    main()
