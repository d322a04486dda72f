"""After `sam build`: import every function from the built artifacts alone, as Lambda would.

Each function runs in a fresh interpreter without site-packages (`-S -I`), with only its own
code directory and its layers on the path, so a package missing from a layer, or a layer that
depends on the developer's virtualenv, fails here instead of on AWS. Trading functions also
load one ccxt exchange class and the encryption SDK.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_SERVICE_NAME": "check",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LAMBDA_TASK_ROOT": "/var/task",
}
TRADING_EXTRA = (
    "from shared.exchange.ccxt_adapter import exchange_class; exchange_class('binance');"
    "import aws_encryption_sdk;"
    "from aws_lambda_powertools.utilities.data_masking import DataMasking"
)


def main() -> int:
    template = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json,sys;from localcloud.template import load_template;"
                f"print(json.dumps(load_template(__import__('pathlib').Path('{BUILD / 'template.yaml'}'))))",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    )
    failures = 0
    for logical_id, resource in sorted(template["Resources"].items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        layers = [*template.get("Globals", {}).get("Function", {}).get("Layers", []), *props.get("Layers", [])]
        paths = [str(BUILD / logical_id)] + [str(BUILD / layer["Ref"] / "python") for layer in layers]
        trading = {"Ref": "ExchangeLayer"} in props.get("Layers", [])
        code = "; ".join(
            [
                f"import sys; sys.path[:0] = {paths!r}",
                "import app",
                *([TRADING_EXTRA] if trading else []),
                "print('ok')",
            ]
        )
        result = subprocess.run(
            [sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True, env=ENV, timeout=120, check=False
        )
        ok = result.returncode == 0 and result.stdout.strip().endswith("ok")
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {logical_id}{' (+ ccxt binance, encryption SDK)' if trading else ''}")
        if not ok:
            print(result.stderr[-2000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
