"""`python -m localcloud` (what `make dev` runs): the whole template on this machine."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from types import FrameType

from localcloud.cloud import LocalCloud
from localcloud.local_stripe import DEFAULT_PORT
from localcloud.seed import seed_demo

# Two requests at once run side by side (localcloud.instances); more buys little on a laptop.
DEFAULT_API_INSTANCES = 2


def _banner(cloud: LocalCloud, demo_key: str | None, bot_id: str | None) -> str:
    lines = [
        "",
        "CryptoOrchestrator local cloud is running (Ctrl-C to stop).",
        f"  API            {cloud.api_url}",
        f"  AWS endpoint   {cloud.aws_endpoint}   (AWS_ENDPOINT_URL for boto3 / the aws CLI)",
        f"  Functions      {', '.join(sorted(cloud.functions))}",
        f"  API instances  {cloud.api_instances or 'none (in this process)'}   (--api-instances)",
        f"  SQS pollers    {len(cloud.pollers)}; schedules x{cloud.speed:g} speed",
        f"  Local Stripe   {cloud.stripe.url if cloud.stripe else '-'}   (complete a checkout: "
        "python -m tools.stripe_complete_checkout <session id>)",
    ]
    if demo_key:
        lines += [
            "  Demo login     demo@cryptoorchestrator.local / demo-password-123",
            f"  Demo API key   {demo_key}",
            "",
            "Try:",
            f"  curl -s {cloud.api_url}/health",
            f"  curl -s -H 'X-Api-Key: {demo_key}' {cloud.api_url}/bots",
            f"  curl -s -X POST -H 'X-Api-Key: {demo_key}' -H 'Idempotency-Key: try-1' "
            "-H 'Content-Type: application/json' "
            '-d \'{"name": "eth dca", "symbol": "ETH/USDT", "strategy": {"type": "dca", '
            '"params": {"interval": "1h", "order_notional": 25}}, "risk": {"max_position_notional": '
            f'500, "max_daily_loss": 50, "max_open_orders": 1}}}}\' {cloud.api_url}/bots',
        ]
        if bot_id:
            lines.append(f"  curl -s -X POST -H 'X-Api-Key: {demo_key}' {cloud.api_url}/bots/{bot_id}/pause")
            # bots trade by themselves (issue 8): the demo bot's first tick comes with the scheduler's first run
            lines.append(f"  curl -s -H 'X-Api-Key: {demo_key}' {cloud.api_url}/bots/{bot_id}/activity")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcloud", description=__doc__)
    parser.add_argument("--port", type=int, default=3000, help="API port (0 picks a free one)")
    parser.add_argument("--aws-port", type=int, default=0, help="embedded AWS endpoint port (0: free)")
    parser.add_argument("--speed", type=float, default=1.0, help="schedule clock speed-up factor")
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo tenant")
    parser.add_argument("--stripe-port", type=int, default=DEFAULT_PORT, help="local Stripe port (busy: any free one)")
    parser.add_argument("--quiet", action="store_true", help="no per-request access log")
    parser.add_argument(
        "--aws-in-process", action="store_true", help="run moto in this process (default: its own process)"
    )
    parser.add_argument(
        "--api-instances",
        type=int,
        default=DEFAULT_API_INSTANCES,
        help=f"processes serving the API's functions side by side, like Lambda instances (default "
        f"{DEFAULT_API_INSTANCES}; 0: in this process)",
    )
    parser.add_argument("--state-file", type=Path, help="write endpoints and demo credentials as JSON")
    args = parser.parse_args(argv)

    cloud = LocalCloud(
        port=args.port,
        aws_port=args.aws_port,
        speed=args.speed,
        quiet=args.quiet,
        aws_process=not args.aws_in_process,
        stripe_port=args.stripe_port,
        api_instances=args.api_instances,
    )
    cloud.start()
    demo = None if args.no_seed else seed_demo()

    if args.state_file:
        # Written whole, then renamed into place: whoever waits for the file never reads it half-written.
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        partial = args.state_file.with_name(args.state_file.name + ".partial")
        partial.write_text(
            json.dumps(
                {
                    "api_url": cloud.api_url,
                    "aws_endpoint": cloud.aws_endpoint,
                    "aws_pid": cloud.aws_pid,
                    "stack_name": cloud.stack_name,
                    "stripe_url": cloud.stripe.url if cloud.stripe else None,
                    "demo": None if demo is None else demo.__dict__,
                }
            )
        )
        partial.replace(args.state_file)
    print(_banner(cloud, demo.api_key if demo else None, demo.bot_id if demo else None), flush=True)

    def shutdown(signum: int, frame: FrameType | None) -> None:
        cloud.request_stop()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    cloud.wait()
    print("stopping local cloud...", flush=True)
    cloud.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
