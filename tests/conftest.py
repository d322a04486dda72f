"""Test session: the local environment always, and one moto server (a real HTTP AWS endpoint)
with every resource of template.yaml only when the session runs a tier that talks to AWS.

moto starts in pytest_configure, before test modules are imported, because the shared package
reads table names from the environment when its models are defined. Whether it is needed is
decided from the paths pytest was given (testpaths when none): tests/unit, tests/e2e (which
starts its own local cloud in a subprocess) and tests/fake_exchange_selftest never reach the
in-process endpoint, so `pytest tests/unit` skips its ~5 s of start-up and table creation.

With moto, the session also checks IAM (moto does not): every AWS call a function's code makes
(its handler called by a test) must be allowed by that function's policy in template.yaml, or the
session fails, listing the (function, action, resource) AWS would deny (tests.support.iam_recorder).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.aws import TestCloud
    from tests.support.iam_recorder import IamRecorder

TESTS = Path(__file__).resolve().parent
# Tiers whose tests use the session's moto endpoint (the `test_cloud` fixture, boto3 defaults).
TIERS_WITH_MOTO = (TESTS / "integration",)
# Where an AWS call from a session without moto goes: nowhere, so it fails at once.
NO_AWS_ENDPOINT = "http://127.0.0.1:9"


def needs_moto(config: pytest.Config) -> bool:
    """Whether any path this session collects from is, or contains, a tier that uses moto."""
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::", 1)[0]).resolve()
        if any(path == tier or tier in path.parents or path in tier.parents for tier in TIERS_WITH_MOTO):
            return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)
    if needs_moto(config):
        from tests.support.aws import start_test_cloud

        config.stash[_CLOUD_KEY] = cloud = start_test_cloud()
        config.stash[_IAM_KEY] = _watch_iam(cloud)
    else:
        from localcloud.cloud import LOCAL_ENVIRONMENT

        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = NO_AWS_ENDPOINT
        os.environ["STAGE"] = "test"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CLOUD_KEY in config.stash:
        config.stash[_CLOUD_KEY].stop()


_CLOUD_KEY = pytest.StashKey["TestCloud"]()
_IAM_KEY = pytest.StashKey["IamRecorder"]()
_IAM_DENIED_KEY = pytest.StashKey[list[str]]()


def _watch_iam(cloud: TestCloud) -> IamRecorder:
    from tests.support.iam_policy import Arns
    from tests.support.iam_recorder import FunctionsOnStack, IamRecorder, install

    recorder = IamRecorder(Arns.of(cloud.resolver), fallback=FunctionsOnStack(cloud.functions), endpoint=cloud.endpoint)
    install(recorder)
    return recorder


@pytest.fixture(autouse=True)
def _iam_unchecked(request: pytest.FixtureRequest) -> Iterator[None]:
    """`@pytest.mark.iam_unchecked(reason)`: the test's AWS calls are not IAM-checked."""
    marker = request.node.get_closest_marker("iam_unchecked")
    if marker is None:
        yield
        return
    from tests.support.iam_recorder import unchecked

    token = unchecked.set(str(marker.args[0]))
    yield
    unchecked.reset(token)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A call a function's policy does not allow fails the session (listed in the summary)."""
    config = session.config
    if _IAM_KEY not in config.stash:
        return
    from tests.support.iam_policy import FunctionPolicies

    policies = FunctionPolicies.from_template(config.stash[_CLOUD_KEY].resolver)
    config.stash[_IAM_DENIED_KEY] = denied = config.stash[_IAM_KEY].denied(policies)
    if denied and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _IAM_KEY in config.stash:
        recorder = config.stash[_IAM_KEY]
        terminalreporter.write_line(
            f"IAM check: {recorder.calls} calls by {len(recorder.functions)} functions, "
            f"{len(recorder.needed)} distinct permissions checked against template.yaml"
        )
    denied = config.stash.get(_IAM_DENIED_KEY, [])
    if denied:
        terminalreporter.section("IAM: calls the functions' policies in template.yaml do not allow", red=True)
        terminalreporter.write_line("(AccessDenied on AWS; moto does not enforce IAM)")
        for line in denied:
            terminalreporter.write_line(f"  {line}", red=True)


@pytest.fixture(scope="session")
def test_cloud(pytestconfig: pytest.Config) -> TestCloud:
    """The session's moto endpoint with the template's resources and functions."""
    if _CLOUD_KEY not in pytestconfig.stash:
        raise pytest.UsageError(
            "this session started no moto server: tests that use it belong under one of "
            f"{[str(t.relative_to(TESTS.parent)) for t in TIERS_WITH_MOTO]} (see tests/conftest.py)"
        )
    return pytestconfig.stash[_CLOUD_KEY]
