"""Test session: the local environment always, and one moto server (a real HTTP AWS endpoint)
with every resource of template.yaml only when the session runs a tier that talks to AWS.

moto starts in pytest_configure, before test modules are imported, because the shared package
reads table names from the environment when its models are defined. Whether it is needed is
decided from the paths pytest was given (testpaths when none): tests/unit, tests/e2e (which
starts its own local cloud in a subprocess) and tests/fake_exchange_selftest never reach the
in-process endpoint, so `pytest tests/unit` skips its ~5 s of start-up and table creation.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.aws import TestCloud

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

        config.stash[_CLOUD_KEY] = start_test_cloud()
    else:
        from localcloud.cloud import LOCAL_ENVIRONMENT

        os.environ.update(LOCAL_ENVIRONMENT)
        os.environ["AWS_ENDPOINT_URL"] = NO_AWS_ENDPOINT
        os.environ["STAGE"] = "test"


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CLOUD_KEY in config.stash:
        config.stash[_CLOUD_KEY].stop()


_CLOUD_KEY = pytest.StashKey["TestCloud"]()


@pytest.fixture(scope="session")
def test_cloud(pytestconfig: pytest.Config) -> TestCloud:
    """The session's moto endpoint with the template's resources and functions."""
    if _CLOUD_KEY not in pytestconfig.stash:
        raise pytest.UsageError(
            "this session started no moto server: tests that use it belong under one of "
            f"{[str(t.relative_to(TESTS.parent)) for t in TIERS_WITH_MOTO]} (see tests/conftest.py)"
        )
    return pytestconfig.stash[_CLOUD_KEY]
