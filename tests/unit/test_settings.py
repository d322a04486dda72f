"""Settings come from the environment, read at first use, names matched case-insensitively."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.config import Settings, get_settings


def _from(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return get_settings()
    finally:
        get_settings.cache_clear()


def test_variables_are_typed_and_read_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _from(
        monkeypatch,
        ORDERS_TABLE="orders-x",
        ORDER_NOT_FOUND_THRESHOLD="6",
        PAPER_TAKER_FEE="0.002",
        WEBHOOKS_ALLOW_LOOPBACK_HTTP="true",
        JWT_SECRET="s" * 40,
    )
    assert settings.orders_table == "orders-x"
    assert settings.order_not_found_threshold == 6
    assert settings.paper_taker_fee == Decimal("0.002")
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == "s" * 40
    assert "s" * 40 not in repr(settings)


def test_the_region_comes_from_aws_region_then_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert _from(monkeypatch, AWS_DEFAULT_REGION="eu-west-1").aws_region == "eu-west-1"
    assert _from(monkeypatch, AWS_REGION="ap-south-1", AWS_DEFAULT_REGION="eu-west-1").aws_region == "ap-south-1"


def test_a_bad_value_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        _from(monkeypatch, ORDER_NOT_FOUND_THRESHOLD="zero")
    with pytest.raises(ValidationError):
        _from(monkeypatch, ORDER_NOT_PLACED_WATCH_SECONDS="3600")  # below the 24 h the guarantee needs
