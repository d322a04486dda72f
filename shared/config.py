"""Typed settings, read once from the environment, at first use.

Every function builds one `Settings` from its environment (template.yaml sets it on
AWS, the local cloud sets it on a laptop). Nothing else in the code reads os.environ.
A frozen dataclass rather than a pydantic model: building a ~100-field pydantic model class
cost 6-14 ms of every function's cold start; a dataclass costs a few, and the values are
checked once, when `get_settings()` first builds them (names matched case-insensitively).
Fields say their bounds and aliases in `setting(...)`; one small converter per type does the rest.
"""

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, get_args, get_origin

from shared.errors import ConfigurationError

_MASK = "**********"


class Secret:
    """A secret setting: its repr and str never show the value; read it with `get_secret_value()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def setting[T](
    default: T,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    aliases: tuple[str, ...] = (),
) -> T:
    """A field with bounds (`ge`/`gt`/`le`, for numbers) or other environment names (`aliases`,
    tried in order after the field's own name)."""
    bounds = {"ge": ge, "gt": gt, "le": le}
    metadata = {"bounds": {k: v for k, v in bounds.items() if v is not None}, "aliases": aliases}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True, eq=False)  # eq: ~0.6 ms of codegen at import; no code compares two Settings
class Settings:
    """Every setting of every function. Built from the environment by `get_settings()`; built
    directly (tests) it validates its keywords the same way."""

    stage: Literal["local", "test", "dev", "prod"] = "dev"
    aws_region: str = setting("us-east-1", aliases=("aws_default_region",))

    tenants_table: str = "Tenants"
    users_table: str = "Users"
    api_keys_table: str = "ApiKeys"
    bots_table: str = "Bots"
    events_table: str = "Events"
    idempotency_table: str = "Idempotency"
    exchange_accounts_table: str = "ExchangeAccounts"
    orders_table: str = "Orders"
    positions_table: str = "Positions"
    paper_accounts_table: str = "PaperAccounts"
    trade_tasks_queue_url: str = ""
    credentials_key_arn: str = ""
    event_bus_name: str = "default"
    event_source: str = "cryptoorchestrator"

    # Either the secret itself (local runs, tests) or the ARN of a Secrets Manager secret (AWS).
    jwt_secret: Secret | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "cryptoorchestrator"
    jwt_audience: str = "cryptoorchestrator-api"
    jwt_ttl_seconds: int = setting(900, ge=60, le=86400)

    # Login throttling (shared/auth/login_throttle.py): failures per (email, client IP) and per IP
    # before exponential backoff starts; the window that forgets failures is also the longest wait.
    login_max_failures: int = setting(5, ge=1)
    login_ip_max_failures: int = setting(50, ge=1)
    login_lockout_seconds: int = setting(900, ge=1)

    # Exchanges. Overrides point an exchange id at another host (our fake exchange in tests):
    # {"binance": {"base_url": "http://127.0.0.1:9000", "markets_file": "markets.json"}}.
    exchange_endpoint_overrides: str = ""
    exchange_timeout_ms: int = setting(10_000, ge=100, le=60_000)

    # Paper exchange.
    paper_price_source: str = "synthetic"
    paper_starting_balances: str = "USDT=10000"
    paper_taker_fee: Decimal = Decimal("0.001")
    paper_maker_fee: Decimal = Decimal("0.001")
    paper_slippage: Decimal = Decimal("0.0005")

    # Order safety. The submit deadline is when a create request can no longer be in flight
    # (Binance's recvWindow is 5 s; ccxt's timeout 10 s). After it, an ambiguous order is declared
    # NOT_PLACED once `order_not_found_threshold` lookups, each at least
    # `order_not_found_interval_seconds` after the previous counted one, missed it. It is never
    # resent: it is looked up again every `order_not_placed_lookup_interval_seconds` for
    # `order_not_placed_watch_seconds`, and adopted if it appears.
    order_submit_deadline_seconds: int = setting(30, ge=1)
    order_not_found_threshold: int = setting(4, ge=1)
    order_not_found_interval_seconds: int = setting(60, ge=1)
    order_not_placed_lookup_interval_seconds: int = setting(600, ge=1)
    order_not_placed_watch_seconds: int = setting(48 * 3600, ge=24 * 3600)
    # A submit task normally waits in the queue; only one lost (its SendMessage failed) or parked
    # longer than this is queued again, so a backlog is never multiplied.
    pending_submit_requeue_seconds: int = setting(900, ge=1)
    default_max_price_deviation_pct: Decimal = Decimal("5")

    # Webhooks: the local cloud sets this so deliveries may go to plain-http receivers on
    # loopback (see shared/webhooks/ssrf.py); never set on AWS.
    webhooks_allow_loopback_http: bool = False

    # Backtests and market data (issue 9): the table, the job queue, the bucket for datasets and
    # results, and the documented caps (a request above a cap is refused, never chunked).
    backtests_table: str = "Backtests"
    backtest_jobs_queue_url: str = ""
    backtest_data_bucket: str = ""
    backtest_max_bars: int = setting(1_051_200, ge=1)  # two years of 1-minute bars
    backtest_max_sweep_combinations: int = setting(1000, ge=1)  # the team plan's sweep size (entitlements)
    market_data_max_upload_bytes: int = setting(64 * 1024 * 1024, ge=1024)  # presigned uploads
    # ---- backtests-more: dca and grid replay their live step bar by bar (up to ~5 ms a bar for a
    # 200-level grid, benchmarks/backtest_engine.py), so fewer bars fit in the worker's 300 s
    backtest_max_stepped_bars: int = setting(50_000, ge=1)
    # ---- signals (TradingView / 3Commas alerts to POST /v1/signals/{bot_id})
    signals_table: str = "Signals"
    signal_secrets_table: str = "SignalSecrets"
    signal_tasks_queue_url: str = ""
    signal_max_body_bytes: int = setting(64 * 1024, ge=1024)
    # Per bot, fixed windows. TradingView itself sends at most 15 alerts per 3 minutes per alert.
    signal_rate_limit: int = setting(30, ge=1)
    signal_rate_window_seconds: int = setting(60, ge=1)
    # The same body twice within this window is one signal (bars are at least a minute apart).
    signal_dedup_window_seconds: int = setting(30, ge=1)
    # How far in the future a signal's timestamp may be (clock skew) before it is refused.
    signal_max_clock_skew_seconds: int = setting(60, ge=0)
    signal_retention_days: int = setting(30, ge=1)
    # ---- webhooks-out (issue 10): webhook subscriptions, deliveries and SNS event streams.
    webhook_subscriptions_table: str = "WebhookSubscriptions"
    webhook_deliveries_table: str = "WebhookDeliveries"
    webhook_deliveries_queue_url: str = ""
    domain_events_topic_arn: str = ""
    # After a rotation the previous secret keeps signing (beside the new one) this long.
    webhooks_secret_overlap_hours: int = setting(24, ge=1, le=168)
    # A delivery is retried (exponential backoff, full jitter, each wait <= the cap, which SQS
    # DelaySeconds bounds at 900 s) until this long after its first attempt, then it fails.
    webhooks_retry_window_hours: int = setting(24, ge=1, le=72)
    webhooks_retry_base_seconds: int = setting(10, ge=1, le=900)
    webhooks_retry_cap_seconds: int = setting(900, ge=1, le=900)
    # This many failed deliveries in a row (each one an event given up on) disable a subscription.
    webhooks_disable_after_failures: int = setting(5, ge=1, le=1000)
    webhooks_max_subscriptions: int = setting(25, ge=1, le=1000)
    webhooks_delivery_timeout_seconds: float = setting(10.0, gt=0, le=10.0)
    # functions/example_consumer (off by default): the topic ARNs it accepts, comma-separated.
    example_consumer_topic_arns: str = ""
    # ---- events-order (issue 10): the KMS key sealing webhook signing secrets at rest.
    webhook_secrets_key_arn: str = ""
    # Bots trade by themselves (issue 8): market data, the tick scheduler, the strategy worker,
    # the bot activity log.
    candles_table: str = "Candles"
    bot_states_table: str = "BotStates"
    bot_activity_table: str = "BotActivity"
    bot_ticks_queue_url: str = ""
    # Bars kept per market (the most any strategy's window reads; ccxt exchanges serve ~1,000 a call).
    market_data_max_bars: int = setting(1000, ge=10, le=5000)
    bot_activity_retention_days: int = setting(14, ge=1)
    # An indicator bot trades only when its position is off its target by more than this share of
    # a full position (so price drift alone never makes it trade every bar).
    bot_rebalance_threshold_pct: Decimal = setting(Decimal("10"), gt=0, le=100)  # noqa: RUF009 (a field spec)

    # ---- billing (issue 13): Stripe keys come from Secrets Manager on AWS (the *_arn fields), or
    # directly (local runs, tests); `stripe_api_base` points the client at a local Stripe server.
    billing_table: str = "Billing"
    usage_table: str = "Usage"
    stripe_api_base: str = ""
    stripe_secret_key: Secret | None = None
    stripe_secret_key_arn: str | None = None
    stripe_webhook_secret: Secret | None = None
    stripe_webhook_secret_arn: str | None = None
    stripe_price_pro: str = ""
    stripe_price_team: str = ""
    # Checkout success/cancel URLs must start with one of these origins (comma-separated).
    billing_allowed_origins: str = "http://localhost:3000,http://127.0.0.1:3000"
    # After a failed payment the plan holds this long before the tenant drops to free.
    billing_grace_period_days: int = setting(7, ge=0, le=60)
    # ---- entitlements (issue 13): per-tenant counters the plan limits are checked against.
    plan_counters_table: str = "PlanCounters"
    invitations_table: str = "Invitations"  # seats: invitations to join a tenant
    invitation_ttl_hours: int = setting(72, ge=1, le=720)
    # billing-stripe: processed Stripe event ids (at most once each; TTL), and how long they are kept.
    stripe_events_table: str = "StripeEvents"
    stripe_events_retention_days: int = setting(35, ge=1)

    idempotency_ttl_seconds: int = setting(86400, ge=60)
    events_retention_days: int = setting(30, ge=1)
    max_body_bytes: int = setting(256 * 1024, ge=1024)

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            converted = _convert(spec.name, spec.type, value, spec.metadata)
            if converted is not value:
                object.__setattr__(self, spec.name, converted)


class _Invalid(ValueError):
    """What a converter raises: the expectation, phrased for the operator (never the value)."""


def _to_str(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    return value


def _to_secret(value: object) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise _Invalid("must be a string")
    return Secret(value)


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise _Invalid("must be an integer") from None
    raise _Invalid("must be an integer")


def _to_float(value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _Invalid("must be a finite number")
    return number


def _to_decimal(value: object) -> Decimal:
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | str) and not isinstance(value, bool):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise _Invalid("must be a finite decimal number")
    return number


_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Invalid("must be a boolean (true/false, yes/no, on/off, 1/0)")


_CONVERTERS: dict[object, Callable[[object], object]] = {
    str: _to_str,
    Secret: _to_secret,
    int: _to_int,
    float: _to_float,
    Decimal: _to_decimal,
    bool: _to_bool,
}


def _check(value: object, type_: object) -> object:
    """`value` as `type_` (a type of _CONVERTERS, a Literal, or either `| None`), or _Invalid."""
    if get_origin(type_) is Literal:
        choices = get_args(type_)
        if value not in choices:
            raise _Invalid("must be one of " + ", ".join(map(str, choices)))
        return value
    args = get_args(type_)
    if type(None) in args:  # `X | None`
        return None if value is None else _check(value, next(a for a in args if a is not type(None)))
    return _CONVERTERS[type_](value)


def _convert(name: str, type_: object, value: object, metadata: Any) -> object:
    """The value of setting `name` checked against its type and bounds. Raises ConfigurationError
    naming the variable; the value is named too unless the setting is a secret."""
    try:
        converted = _check(value, type_)
        bounds: dict[str, float] = metadata.get("bounds", {})
        if converted is not None and bounds:
            number: Any = converted
            if ("ge" in bounds and not number >= bounds["ge"]) or ("gt" in bounds and not number > bounds["gt"]):
                raise _Invalid(f"must be {'>=' if 'ge' in bounds else '>'} {bounds.get('ge', bounds.get('gt'))}")
            if "le" in bounds and not number <= bounds["le"]:
                raise _Invalid(f"must be <= {bounds['le']}")
    except _Invalid as invalid:
        secret = Secret in (type_, *get_args(type_))
        shown = "" if secret else f" (got {str(value)[:80]!r})"
        raise ConfigurationError(f"setting {name.upper()} {invalid}{shown}") from None
    return converted


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The one Settings of this process, built from os.environ at first use."""
    environ = {name.lower(): value for name, value in os.environ.items()}
    values: dict[str, Any] = {}
    for spec in fields(Settings):
        for env_name in (spec.name, *spec.metadata.get("aliases", ())):
            if env_name in environ:
                values[spec.name] = environ[env_name]
                break
    return Settings(**values)
