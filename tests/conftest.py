"""Test session: one moto server (a real HTTP AWS endpoint) with every resource of template.yaml.

It starts in pytest_configure, before test modules are imported, because the shared package
reads table names from the environment when its models are defined.
"""

from __future__ import annotations

import logging
import os
import secrets

import pytest

from tests.support.aws import start_test_cloud


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    cloud = start_test_cloud()
    config.stash[_CLOUD_KEY] = cloud
    os.environ["JWT_SECRET"] = secrets.token_urlsafe(48)


def pytest_unconfigure(config: pytest.Config) -> None:
    cloud = config.stash.get(_CLOUD_KEY, None)
    if cloud is not None:
        cloud.stop()


_CLOUD_KEY = pytest.StashKey["object"]()
