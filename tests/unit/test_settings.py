"""Settings come from the environment, read at first use, names matched case-insensitively, and
checked once: a wrong value is a ConfigurationError naming the variable (never a secret's value)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields, replace
from decimal import Decimal
from typing import Any

import pytest

from shared.config import Secret, Settings, get_settings
from shared.errors import ConfigurationError


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
        WEBHOOKS_DELIVERY_TIMEOUT_SECONDS="2.5",
        STAGE="prod",
        JWT_SECRET="s" * 40,
    )
    assert settings.orders_table == "orders-x"
    assert settings.order_not_found_threshold == 6
    assert settings.paper_taker_fee == Decimal("0.002")
    assert settings.webhooks_allow_loopback_http is True
    assert settings.webhooks_delivery_timeout_seconds == 2.5
    assert settings.stage == "prod"
    assert settings.jwt_secret is not None and settings.jwt_secret.get_secret_value() == "s" * 40
    assert "s" * 40 not in repr(settings)


def test_unset_variables_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_TTL_SECONDS", raising=False)
    monkeypatch.delenv("PAPER_SLIPPAGE", raising=False)
    settings = _from(monkeypatch)
    assert settings.jwt_ttl_seconds == 900
    assert settings.paper_slippage == Decimal("0.0005")


def test_names_are_matched_case_insensitively(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOTS_TABLE", raising=False)
    assert _from(monkeypatch, bots_table="bots-lower").bots_table == "bots-lower"
    monkeypatch.delenv("bots_table")
    assert _from(monkeypatch, Bots_Table="bots-mixed").bots_table == "bots-mixed"


def test_the_region_comes_from_aws_region_then_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert _from(monkeypatch, AWS_DEFAULT_REGION="eu-west-1").aws_region == "eu-west-1"
    assert _from(monkeypatch, AWS_REGION="ap-south-1", AWS_DEFAULT_REGION="eu-west-1").aws_region == "ap-south-1"


def test_a_bad_value_fails_loudly_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="ORDER_NOT_FOUND_THRESHOLD must be an integer"):
        _from(monkeypatch, ORDER_NOT_FOUND_THRESHOLD="zero")


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ORDER_NOT_PLACED_WATCH_SECONDS", "3600", "must be >= 86400"),  # below the 24 h the guarantee needs
        ("JWT_TTL_SECONDS", "86401", "must be <= 86400"),
        ("JWT_TTL_SECONDS", "59", "must be >= 60"),
        ("SIGNAL_MAX_CLOCK_SKEW_SECONDS", "-1", "must be >= 0"),
        ("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "0", "must be > 0"),
        ("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "10.5", "must be <= 10.0"),
        ("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "nan", "must be a finite number"),
        ("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "fast", "must be a finite number"),
        ("BOT_REBALANCE_THRESHOLD_PCT", "0", "must be > 0"),
        ("BOT_REBALANCE_THRESHOLD_PCT", "100.01", "must be <= 100"),
        ("PAPER_TAKER_FEE", "1%", "must be a finite decimal number"),
        ("PAPER_TAKER_FEE", "Infinity", "must be a finite decimal number"),
        ("STAGE", "staging", "must be one of local, test, dev, prod"),
        ("WEBHOOKS_ALLOW_LOOPBACK_HTTP", "maybe", "must be a boolean (true/false, yes/no, on/off, 1/0)"),
    ],
)
def test_values_out_of_bounds_or_of_the_wrong_kind_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _from(monkeypatch, **{variable: value})
    assert refused.value.message == f"setting {variable} {expected} (got {value!r})"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("JWT_TTL_SECONDS", "60", 60),
        ("JWT_TTL_SECONDS", "86400", 86400),
        ("WEBHOOKS_DELIVERY_TIMEOUT_SECONDS", "10", 10.0),
        ("BOT_REBALANCE_THRESHOLD_PCT", "100", Decimal(100)),
        ("SIGNAL_MAX_CLOCK_SKEW_SECONDS", "0", 0),
    ],
)
def test_bounds_are_inclusive_where_they_say_so(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: object
) -> None:
    assert getattr(_from(monkeypatch, **{variable: value}), variable.lower()) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(v, True) for v in ("true", "True", "1", "yes", "y", "on", "t")]
    + [(v, False) for v in ("false", "FALSE", "0", "no", "n", "off", "f")],
)
def test_booleans_take_the_usual_forms(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    assert _from(monkeypatch, WEBHOOKS_ALLOW_LOOPBACK_HTTP=value).webhooks_allow_loopback_http is expected


def test_a_secret_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = Secret("hunter2-" * 5)
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret) and "hunter2" not in f"{secret}"
    assert secret == Secret("hunter2-" * 5) and secret != Secret("other") and secret != "hunter2-" * 5
    assert hash(secret) == hash(Secret("hunter2-" * 5))  # usable as a cache key, like the value
    settings = _from(monkeypatch, STRIPE_SECRET_KEY="sk_test_hunter2", STRIPE_WEBHOOK_SECRET="whsec_hunter2")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)
    assert settings.stripe_secret_key == Secret("sk_test_hunter2")


def test_a_secret_of_the_wrong_kind_is_refused_without_its_value() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings(jwt_secret=12345678901234567890)  # type: ignore[arg-type]
    assert refused.value.message == "setting JWT_SECRET must be a string"
    assert "1234567890" not in str(refused.value) and "1234567890" not in repr(refused.value)


def test_keyword_construction_validates_and_converts_too() -> None:
    assert Settings(jwt_ttl_seconds=120).jwt_ttl_seconds == 120
    raw: dict[str, Any] = {"jwt_secret": "k" * 32, "order_not_found_threshold": "7"}
    built = Settings(**raw)
    assert built.jwt_secret == Secret("k" * 32)
    assert built.order_not_found_threshold == 7
    with pytest.raises(ConfigurationError, match="JWT_TTL_SECONDS must be >= 60"):
        Settings(jwt_ttl_seconds=5)
    with pytest.raises(ConfigurationError, match="JWT_TTL_SECONDS must be an integer"):
        Settings(jwt_ttl_seconds=True)
    with pytest.raises(ConfigurationError, match="ORDERS_TABLE must be a string"):
        Settings(orders_table=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="EXCHANGE_TIMEOUT_MS must be <= 60000"):
        replace(Settings(), exchange_timeout_ms=60_001)


def test_settings_are_frozen_and_every_default_is_valid() -> None:
    settings = Settings()
    with pytest.raises(FrozenInstanceError):
        settings.stage = "prod"  # type: ignore[misc]
    assert len(fields(Settings)) > 90
    assert settings.jwt_secret is None and settings.jwt_secret_arn is None
