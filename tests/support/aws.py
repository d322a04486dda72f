"""Starts moto's server and creates the template's resources on it, through the local cloud's
provisioner, so tests run against exactly what template.yaml declares."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from localcloud.cloud import LOCAL_ENVIRONMENT, REGION, start_aws_endpoint, start_moto_trimming
from localcloud.functions import FunctionSpec, apply_environment, discover_functions
from localcloud.provision import ACCOUNT_ID, provision
from localcloud.template import Resolver, load_template

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer


@dataclass
class TestCloud:
    __test__ = False  # a fixture value, not a test class

    server: ThreadedMotoServer
    endpoint: str
    resolver: Resolver
    functions: dict[str, FunctionSpec]

    def stop(self) -> None:
        self.server.stop()


def start_test_cloud(stack_name: str = "test") -> TestCloud:
    server, endpoint = start_aws_endpoint()
    start_moto_trimming(threading.Event(), interval=2.0)
    os.environ.update(LOCAL_ENVIRONMENT)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["STAGE"] = "test"
    resolver = Resolver(load_template(), REGION, ACCOUNT_ID, stack_name)
    provision(resolver, endpoint)
    functions = discover_functions(resolver)
    apply_environment(functions, keep=frozenset({"STAGE"}))
    return TestCloud(server, endpoint, resolver, functions)
