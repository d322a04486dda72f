"""`python -m tests.support.localcloud_iam REPORT [localcloud options]`: the local cloud, exactly as
`python -m localcloud` runs it, with every function's AWS calls recorded (tests.support.iam_recorder);
when it stops it writes REPORT, a JSON object: how many calls were checked, from which functions,
and each (function, action, resource) its template policy does not allow, with where it was called.
The e2e tier runs its local cloud this way, so every flow it drives is also an IAM check
(tests/e2e/conftest.py).

The API's functions run in instance processes (localcloud.instances): each instance records its
own calls (`record_in_instance`, through the pool's setup hook) and keeps them in a file next
to REPORT, rewritten after each invocation; they are merged before the check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import localcloud.cloud as cloud_module
from localcloud.__main__ import main as localcloud_main
from localcloud.cloud import REGION
from localcloud.instances import SETUP_VARIABLE
from localcloud.provision import ACCOUNT_ID
from localcloud.template import Resolver
from tests.support.iam_policy import Arns, FunctionPolicies, Permission
from tests.support.iam_recorder import IamRecorder, install

ARNS_VARIABLE = "LOCALCLOUD_IAM_ARNS"  # the provisioned Arns, for the instances (JSON)
INSTANCE_REPORTS_VARIABLE = "LOCALCLOUD_IAM_INSTANCE_REPORTS"  # the directory they write to


def run(report: Path, argv: list[str]) -> int:
    recorder = IamRecorder(Arns(REGION, ACCOUNT_ID))
    provisioned: list[Resolver] = []
    provision = cloud_module.provision  # type: ignore[attr-defined]  # the name LocalCloud.start calls
    instance_reports = report.with_name(report.stem + "-instances")
    instance_reports.mkdir(parents=True, exist_ok=True)

    def provision_and_watch(resolver: Resolver, endpoint: str) -> None:
        """The physical names (secret ARNs, key ARNs) the policies resolve to exist from here on."""
        provision(resolver, endpoint)
        recorder.arns = Arns.of(resolver)
        os.environ[ARNS_VARIABLE] = json.dumps(dataclasses.asdict(recorder.arns))
        provisioned.append(resolver)

    cloud_module.provision = provision_and_watch  # type: ignore[attr-defined]
    os.environ[SETUP_VARIABLE] = "tests.support.localcloud_iam:record_in_instance"  # run as __main__ here
    os.environ[INSTANCE_REPORTS_VARIABLE] = str(instance_reports)
    install(recorder)
    code = localcloud_main(argv)
    for path in sorted(instance_reports.glob("*.json")):
        merge(recorder, json.loads(path.read_text()))
    denied = recorder.denied(FunctionPolicies.from_template(provisioned[0])) if provisioned else []
    result: dict[str, Any] = {
        "calls": recorder.calls,
        "functions": sorted(recorder.functions),
        "denied": denied,
    }
    report.write_text(json.dumps(result, indent=1))
    return code


def record_in_instance() -> Callable[[], None]:
    """In an instance process: record its functions' calls, and write down what it found after
    each invocation (an instance that crashes, times out or is killed at the end keeps its
    findings up to its last invocation)."""
    arns = json.loads(os.environ[ARNS_VARIABLE])
    recorder = IamRecorder(Arns(arns["region"], arns["account"], tuple(arns["secret_arns"])))
    install(recorder)
    path = Path(os.environ[INSTANCE_REPORTS_VARIABLE]) / f"{os.getpid()}.json"

    written: list[int] = [0]  # the permissions found when last written

    def write() -> None:
        """After an invocation that needed a permission not yet written down (the first one always
        does: the check also wants to know that calls were made)."""
        if len(recorder.needed) == written[0] and written[0]:
            return
        written[0] = len(recorder.needed)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(found_by(recorder)))
        partial.replace(path)  # whole or not at all: the parent may read it while it is killed

    return write


def found_by(recorder: IamRecorder) -> dict[str, Any]:
    """What a recorder found, as JSON-able data for `merge`."""
    needed = [[function, dataclasses.asdict(p), site] for (function, p), site in recorder.needed.items()]
    return {"calls": recorder.calls, "functions": sorted(recorder.functions), "needed": needed}


def merge(recorder: IamRecorder, found: dict[str, Any]) -> None:
    """An instance's calls (as `record_in_instance` wrote them) into this process's recorder."""
    recorder.calls += found["calls"]
    recorder.functions.update(found["functions"])
    for function, permission, site in found["needed"]:
        context = tuple((str(key), str(value)) for key, value in permission["context"])
        recorder.needed.setdefault((function, Permission(permission["action"], permission["resource"], context)), site)


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2:]))
