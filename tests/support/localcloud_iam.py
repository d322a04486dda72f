"""`python -m tests.support.localcloud_iam REPORT [localcloud options]`: the local cloud, exactly as
`python -m localcloud` runs it, with every function's AWS calls recorded (tests.support.iam_recorder);
when it stops it writes REPORT, a JSON object: how many calls were checked, from which functions,
and each (function, action, resource) its template policy does not allow, with where it was called.
The e2e tier runs its local cloud this way, so every flow it drives is also an IAM check
(tests/e2e/conftest.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import localcloud.cloud as cloud_module
from localcloud.__main__ import main as localcloud_main
from localcloud.cloud import REGION
from localcloud.provision import ACCOUNT_ID
from localcloud.template import Resolver
from tests.support.iam_policy import Arns, FunctionPolicies
from tests.support.iam_recorder import IamRecorder, install


def run(report: Path, argv: list[str]) -> int:
    recorder = IamRecorder(Arns(REGION, ACCOUNT_ID))
    provisioned: list[Resolver] = []
    provision = cloud_module.provision  # type: ignore[attr-defined]  # the name LocalCloud.start calls

    def provision_and_watch(resolver: Resolver, endpoint: str) -> None:
        """The physical names (secret ARNs, key ARNs) the policies resolve to exist from here on."""
        provision(resolver, endpoint)
        recorder.arns = Arns.of(resolver)
        provisioned.append(resolver)

    cloud_module.provision = provision_and_watch  # type: ignore[attr-defined]
    install(recorder)
    code = localcloud_main(argv)
    denied = recorder.denied(FunctionPolicies.from_template(provisioned[0])) if provisioned else []
    result: dict[str, Any] = {
        "calls": recorder.calls,
        "functions": sorted(recorder.functions),
        "denied": denied,
    }
    report.write_text(json.dumps(result, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2:]))
