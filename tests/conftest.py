"""Test session: one moto server (a real HTTP AWS endpoint) with every resource of template.yaml.

It starts in pytest_configure, before test modules are imported, because the shared package
reads table names from the environment when its models are defined.
"""

from __future__ import annotations

import logging
import os
import secrets

import pytest

from tests.support.aws import TestCloud, start_test_cloud


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    cloud = start_test_cloud()
    config.stash[_CLOUD_KEY] = cloud
    os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CLOUD_KEY in config.stash:
        config.stash[_CLOUD_KEY].stop()


_CLOUD_KEY = pytest.StashKey["TestCloud"]()


@pytest.fixture(scope="session")
def test_cloud(pytestconfig: pytest.Config) -> TestCloud:
    """The session's moto endpoint with the template's resources and functions."""
    return pytestconfig.stash[_CLOUD_KEY]
