"""A SnapStart restore gives each environment its own clients and secret caches."""

from __future__ import annotations

import pytest

from shared import snapstart


def test_a_restore_forgets_clients_and_cached_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities import parameters

    from shared.aws_clients import aws_client

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws_client("sqs")
    assert aws_client.cache_info().currsize >= 1
    cleared: list[bool] = []
    monkeypatch.setattr(parameters, "clear_caches", lambda: cleared.append(True))
    snapstart.refresh_after_restore()
    assert aws_client.cache_info().currsize == 0
    assert cleared == [True]


def test_off_snapstart_no_hook_is_registered() -> None:
    assert snapstart.register_restore_hooks() is False
