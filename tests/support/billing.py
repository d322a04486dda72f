"""The local Stripe for billing tests: started once per test module, the settings pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from localcloud.local_stripe import LocalStripe
from shared.config import get_settings


@pytest.fixture(scope="module")
def local_stripe() -> Iterator[LocalStripe]:
    server = LocalStripe().start()
    saved = {name: os.environ.get(name) for name in server.environment()}
    os.environ.update(server.environment())
    get_settings.cache_clear()
    yield server
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    server.stop()
