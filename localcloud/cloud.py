"""Assembles the local cloud: embedded AWS endpoint, resources from the template, gateway,
SQS pollers and schedule clock."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localcloud.functions import FunctionSpec, apply_environment, discover_functions
from localcloud.gateway import Gateway, make_http_server
from localcloud.instances import InstancePool
from localcloud.local_stripe import LocalStripe
from localcloud.moto_process import MotoProcess
from localcloud.pollers import SqsPoller, sqs_pollers
from localcloud.provision import ACCOUNT_ID, provision
from localcloud.schedules import ScheduleClock, template_schedules
from localcloud.sns_bridge import SnsBridgePoller, sns_bridges
from localcloud.template import Resolver, load_template
from shared.config import get_settings

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

REGION = "us-east-1"

# Local-only environment, on top of what the template sets per function.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "POWERTOOLS_SERVICE_NAME": "localcloud",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    # webhooks-out: deliveries (and SNS pushes) may go to plain-http receivers on loopback.
    "WEBHOOKS_ALLOW_LOOPBACK_HTTP": "true",
}


def start_aws_endpoint(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadedMotoServer, str]:
    """moto's server in this process, with the local cloud's fixes to it installed (and HTTP
    keep-alive, localcloud.moto_server): the one way the local cloud (in the moto process, or in
    its own with aws_process=False), the tests and the benchmarks start their AWS endpoint."""
    from localcloud import moto_speedups, moto_sqs_fifo, moto_transactions
    from localcloud.moto_server import KeepAliveMotoServer

    moto_transactions.install()
    moto_speedups.install()
    moto_sqs_fifo.install()
    server = KeepAliveMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def start_moto_trimming(stop: threading.Event, interval: float = 5.0) -> None:
    """moto tracks every model instance it creates (each stored item, each parsed expression), so
    a long session grows without bound (and slows down). Dropping that tracking, which only feeds
    moto's dashboard, keeps memory flat."""
    from moto.core.model_instances import reset_model_data

    def trim() -> None:
        while not stop.wait(interval):
            reset_model_data()

    threading.Thread(target=trim, name="moto-trim", daemon=True).start()


@dataclass
class LocalCloud:
    port: int = 3000
    aws_port: int = 0
    host: str = "127.0.0.1"
    speed: float = 1.0
    stack_name: str = "co-local"
    quiet: bool = False
    parameters: dict[str, str] = field(default_factory=dict)
    stripe_port: int = 0  # billing-stripe: the local Stripe server (0: any free port)
    # moto in its own process (localcloud.moto_process): its request handling stops competing with
    # the handlers for this process's GIL. False: in this process, where a benchmark can wrap it.
    aws_process: bool = True
    aws_wrap: tuple[str, ...] = ()  # with aws_process: module:callable wrappers of moto's WSGI app
    # The API's functions (routes and authorizer) in up to this many instance processes, so
    # concurrent requests run side by side as on Lambda (localcloud.instances); 0: in this process.
    api_instances: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._moto: ThreadedMotoServer | None = None
        self._moto_process: MotoProcess | None = None
        self._http: Any = None
        self.functions: dict[str, FunctionSpec] = {}
        self.pollers: list[SqsPoller] = []
        self.sns_bridges: list[SnsBridgePoller] = []
        self.clock: ScheduleClock | None = None
        self.aws_endpoint = ""
        self.api_url = ""
        self.stripe: LocalStripe | None = None
        self.instances: InstancePool | None = None

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if self.aws_process:
            self._moto_process = MotoProcess(self.host, self.aws_port, self.aws_wrap)
            self.aws_endpoint = self._moto_process.start()
        else:
            self._moto, self.aws_endpoint = start_aws_endpoint(self.host, self.aws_port)
            start_moto_trimming(self._stop)
        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint

        resolver = Resolver(load_template(), REGION, ACCOUNT_ID, self.stack_name, dict(self.parameters))
        provision(resolver, self.aws_endpoint)
        self.functions = discover_functions(resolver)
        apply_environment(self.functions)
        # billing-stripe: the billing function talks to a local Stripe (STRIPE_API_BASE and local keys).
        self.stripe = LocalStripe(self.host, self.stripe_port).start()
        os.environ.update(self.stripe.environment())
        get_settings.cache_clear()

        gateway = Gateway(resolver, self.functions)
        if self.api_instances:
            api_functions = gateway.functions()
            self.instances = InstancePool(api_functions, self.api_instances)
            for spec in api_functions:
                spec.instances = self.instances
        self._http = make_http_server(gateway, self.host, self.port, quiet=self.quiet)
        self.port = self._http.server_address[1]
        self.api_url = f"http://{self.host}:{self.port}/{gateway.stage}"
        threading.Thread(target=self._http.serve_forever, name="gateway", daemon=True).start()

        self.pollers = sqs_pollers(resolver, self.functions, self.aws_endpoint, self._stop)
        for poller in self.pollers:
            poller.start()
        self.sns_bridges = sns_bridges(resolver, self.aws_endpoint, self._stop)
        for bridge in self.sns_bridges:
            bridge.start()
        self.clock = ScheduleClock(template_schedules(self.functions), self._stop, self.speed)
        self.clock.start()

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        # One deadline for all of them: joined one by one with a timeout each, a few pollers busy in
        # long handlers added up to more than a Ctrl-C should take. Pollers are daemon threads.
        deadline = time.monotonic() + 8
        for thread in [*self.pollers, *self.sns_bridges, *([self.clock] if self.clock is not None else [])]:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if self.instances is not None:
            self.instances.stop()
        if self.stripe is not None:
            self.stripe.stop()
        if self._moto is not None:
            self._moto.stop()
        if self._moto_process is not None:
            self._moto_process.stop()

    @property
    def aws_pid(self) -> int:
        """The process serving the AWS endpoint (this one with aws_process=False)."""
        pid = self._moto_process.pid if self._moto_process is not None else None
        return pid if pid is not None else os.getpid()

    def request_stop(self) -> None:
        self._stop.set()

    def wait(self) -> None:
        self._stop.wait()
