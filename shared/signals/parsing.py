"""Reading a signal body (3Commas JSON, TradingView JSON, `KEY=VALUE` text) into one shape.

Pure: no I/O, no clock. Every format is flattened into lower-case keys with known aliases, so the
three formats share one set of rules. The secret is taken out here and never kept on the result's
public fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Action = Literal["enter_long", "exit_long", "enter_short", "exit_short"]
MarketPosition = Literal["long", "flat", "short"]
AmountUnit = Literal["base", "quote", "percent"]
SignalFormat = Literal["3commas", "tradingview", "text"]

# Accepted spellings of each field, after lower-casing; the first is the canonical name.
_ALIASES: dict[str, tuple[str, ...]] = {
    "secret": ("secret",),
    "action": ("action", "signal", "side", "strategy.order.action", "order_action"),
    "symbol": ("symbol", "ticker", "tv_instrument", "instrument", "pair"),
    "exchange": ("tv_exchange", "exchange"),
    "timestamp": ("timestamp", "time", "timenow"),
    "max_lag": ("max_lag",),
    "price": ("trigger_price", "price", "close"),
    "amount": ("amount", "contracts", "volume", "qty", "quantity", "strategy.order.contracts"),
    "currency_type": ("currency_type",),
    "market_position": ("market_position", "position", "strategy.market_position"),
    "market_position_size": ("market_position_size", "position_size", "strategy.market_position_size"),
    "prev_market_position": ("prev_market_position", "strategy.prev_market_position"),
    "prev_market_position_size": ("prev_market_position_size", "strategy.prev_market_position_size"),
    "bot_uuid": ("bot_uuid",),
}
_CANONICAL = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_THREE_COMMAS_KEYS = frozenset({"tv_instrument", "tv_exchange", "bot_uuid", "strategy_info", "max_lag"})
_ACTIONS: dict[str, Action] = {
    "enter_long": "enter_long",
    "exit_long": "exit_long",
    "enter_short": "enter_short",
    "exit_short": "exit_short",
    "buy": "enter_long",
    "long": "enter_long",
    "sell": "exit_long",
    "short": "enter_short",
    "close": "exit_long",
    "exit": "exit_long",
    "flat": "exit_long",
}
_FLATTENING = frozenset({"close", "exit", "flat"})
_PAIR_SEPARATORS = re.compile(r"[;\n\r]+")
_MAX_NUMBER_DIGITS = 30


class SignalFormatError(ValueError):
    """The body cannot be read as a signal; `code` says why (safe to show: never echoes values)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Target:
    """The position the sender wants: `size` in base units, or None for "a full position" (bot sizing)."""

    position: MarketPosition
    size: Decimal | None


@dataclass(frozen=True)
class SignalAmount:
    value: Decimal
    unit: AmountUnit


@dataclass(frozen=True)
class ParsedSignal:
    format: SignalFormat
    action: Action
    action_text: str  # what the sender wrote, lower case (for the record)
    symbol: str | None
    exchange: str | None
    timestamp: datetime | None
    max_lag_seconds: int | None
    price: Decimal | None
    amount: SignalAmount | None
    target: Target | None
    secret: str | None = field(repr=False)  # only used to authenticate; never stored or logged

    def public_fields(self) -> dict[str, Any]:
        """What a signal record keeps: everything but the secret."""
        return {
            "format": self.format,
            "action": self.action,
            "action_text": self.action_text,
            "symbol": self.symbol,
            "exchange": self.exchange,
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat().replace("+00:00", "Z"),
            "max_lag_seconds": self.max_lag_seconds,
            "price": None if self.price is None else str(self.price),
            "amount": None if self.amount is None else {"value": str(self.amount.value), "unit": self.amount.unit},
            "target": None
            if self.target is None
            else {
                "position": self.target.position,
                "size": None if self.target.size is None else str(self.target.size),
            },
        }


def _text_pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in _PAIR_SEPARATORS.split(text):
        stripped = part.strip()
        if not stripped:
            continue
        key, sep, value = stripped.partition("=")
        if not sep or not key.strip():
            raise SignalFormatError("malformed_signal", "text signals are KEY=VALUE pairs, one a line or ';'-separated")
        pairs[key.strip().lower()] = value.strip()
    return pairs


def _flatten(body: dict[str, Any]) -> dict[str, Any]:
    """3Commas nests `strategy_info` and `order`; lift their fields to the top level."""
    flat: dict[str, Any] = {}
    for key, value in body.items():
        lowered = str(key).lower()
        if lowered in ("strategy_info", "strategy", "order") and isinstance(value, dict):
            flat.update({str(k).lower(): v for k, v in value.items()})
        else:
            flat[lowered] = value
    return flat


def _canonical(flat: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in flat.items():
        name = _CANONICAL.get(key)
        if name is None or value is None or value == "":
            continue
        if isinstance(value, dict | list):
            raise SignalFormatError("malformed_signal", f"field {key!r} must be a string or a number")
        if isinstance(value, str) and "{{" in value:
            raise SignalFormatError(
                "unresolved_placeholder",
                f"field {key!r} still holds a TradingView placeholder: check the alert message",
            )
        fields.setdefault(name, value)
    return fields


def _decimal(name: str, value: Any, *, allow_zero: bool = True) -> Decimal:
    if isinstance(value, bool):
        raise SignalFormatError("malformed_signal", f"{name} must be a number")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise SignalFormatError("malformed_signal", f"{name} must be a number") from None
    if (
        not number.is_finite()
        or number < 0
        or (number == 0 and not allow_zero)
        or len(number.as_tuple().digits) > _MAX_NUMBER_DIGITS
    ):
        raise SignalFormatError("malformed_signal", f"{name} must be a finite, non-negative number")
    return number


def parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (TradingView's {{timenow}}: 2024-05-01T12:00:00Z) or Unix seconds / milliseconds."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        if number > 1e11:  # milliseconds
            number /= 1000
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            raise SignalFormatError("malformed_signal", "timestamp is out of range") from None
    if not isinstance(value, str):
        raise SignalFormatError("malformed_signal", "timestamp must be ISO 8601 or Unix seconds")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SignalFormatError("malformed_signal", "timestamp must be ISO 8601 or Unix seconds") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _amount(fields: dict[str, Any]) -> SignalAmount | None:
    raw = fields.get("amount")
    if raw is None:
        return None
    text = str(raw).strip()
    unit: AmountUnit = "base"
    if text.endswith("%"):
        text, unit = text[:-1], "percent"
    currency_type = str(fields.get("currency_type", "")).lower()
    if currency_type in ("quote", "quote_currency"):
        unit = "quote"
    elif currency_type in ("percent", "margin_percent", "position_percent"):
        unit = "percent"
    elif currency_type not in ("", "base", "base_currency", "contracts"):
        raise SignalFormatError("malformed_signal", "order.currency_type must be base, quote or percent")
    value = _decimal("amount", text, allow_zero=False)
    if unit == "percent" and value > 100:
        raise SignalFormatError("malformed_signal", "a percent amount must be at most 100")
    return SignalAmount(value, unit)


def _target(fields: dict[str, Any]) -> Target | None:
    position = fields.get("market_position")
    size_raw = fields.get("market_position_size")
    size = None if size_raw is None else _decimal("market_position_size", size_raw)
    if position is None:
        return None if size is None else Target("flat" if size == 0 else "long", size)
    lowered = str(position).strip().lower()
    if lowered not in ("long", "flat", "short"):
        raise SignalFormatError("malformed_signal", "market_position must be long, flat or short")
    if lowered == "flat":
        return Target("flat", Decimal(0))
    if size == 0:
        raise SignalFormatError("malformed_signal", "a long or short market position needs a size above 0")
    return Target("long" if lowered == "long" else "short", size)


def _action(text: str, target: Target | None) -> Action:
    action = _ACTIONS.get(text)
    if action is None:
        raise SignalFormatError(
            "unknown_action", "action must be enter_long, exit_long, enter_short, exit_short, buy, sell or close"
        )
    if text in ("buy", "long") and target is not None and target.position == "flat":
        return "exit_short"  # a buy that leaves the position flat closes a short
    if text == "sell" and target is not None and target.position == "short":
        return "enter_short"
    return action


def _read_fields(body: bytes, content_type: str) -> tuple[dict[str, Any], SignalFormat]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignalFormatError("malformed_signal", "the body must be UTF-8 text") from None
    stripped = text.strip()
    if not stripped:
        raise SignalFormatError("malformed_signal", "the body is empty")
    if stripped.startswith("{") or "json" in content_type.lower():
        try:
            loaded = json.loads(stripped, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise SignalFormatError("malformed_signal", "the body is not valid JSON") from None
        if not isinstance(loaded, dict):
            raise SignalFormatError("malformed_signal", "a JSON signal must be an object")
        fmt: SignalFormat = "3commas" if _THREE_COMMAS_KEYS & {str(k).lower() for k in loaded} else "tradingview"
        return _flatten(loaded), fmt
    return _text_pairs(stripped), "text"


@dataclass(frozen=True)
class SignalBody:
    """A body read into its fields once: first for the secret that authenticates it (its other
    fields may still be wrong: then the refusal is recorded for the bot), then for the signal."""

    fields: dict[str, Any]
    format: SignalFormat

    @property
    def secret(self) -> str | None:
        value = self.fields.get("secret")
        return value if isinstance(value, str) and value else None


def read_body(body: bytes, content_type: str) -> SignalBody:
    """The body's fields; SignalFormatError if it cannot be read at all."""
    fields, fmt = _read_fields(body, content_type)
    return SignalBody(fields, fmt)


def parse_signal(body: bytes | SignalBody, content_type: str = "") -> ParsedSignal:
    """The signal in `body` (raw, or already read), or SignalFormatError saying what is wrong with it."""
    read = body if isinstance(body, SignalBody) else read_body(body, content_type)
    raw_fields, fmt = read.fields, read.format
    secret = raw_fields.get("secret")
    fields = _canonical({k: v for k, v in raw_fields.items() if k != "secret"})
    if "action" not in fields:
        raise SignalFormatError("unknown_action", "the signal has no action (action, signal or side)")
    action_text = str(fields["action"]).strip().lower()
    target = _target(fields)
    action = _action(action_text, target)
    if action_text in _FLATTENING and target is None:
        target = Target("flat", Decimal(0))
    if (action == "enter_long" and target is not None and target.position == "short") or (
        action == "enter_short" and target is not None and target.position == "long"
    ):
        raise SignalFormatError("inconsistent_signal", "the action contradicts market_position")
    max_lag = fields.get("max_lag")
    return ParsedSignal(
        format=fmt,
        action=action,
        action_text=action_text[:32],
        symbol=None if "symbol" not in fields else str(fields["symbol"]).strip()[:64],
        exchange=None if "exchange" not in fields else str(fields["exchange"]).strip()[:32],
        timestamp=None if "timestamp" not in fields else parse_timestamp(fields["timestamp"]),
        max_lag_seconds=None if max_lag is None else int(_decimal("max_lag", max_lag, allow_zero=False)),
        price=None if "price" not in fields else _decimal("price", fields["price"], allow_zero=False),
        amount=_amount(fields),
        target=target,
        secret=secret if isinstance(secret, str) and secret else None,
    )


def normalized_symbol(symbol: str, *, derivatives: bool) -> str:
    """`BINANCE:BTCUSDT`, `BTC/USDT`, `btc-usdt` and (for derivatives) `BTCUSDT.P` all read `BTCUSDT`."""
    text = symbol.strip().upper()
    if ":" in text and not re.match(r"^[A-Z0-9]+/[A-Z0-9]+:[A-Z0-9]+$", text):
        text = text.rsplit(":", 1)[1]  # an exchange prefix (BINANCE:BTCUSDT)
    text = text.split(":", 1)[0]  # a ccxt settle suffix (BTC/USDT:USDT)
    if derivatives:
        for suffix in (".P", "PERP"):
            text = text.removesuffix(suffix)
    return re.sub(r"[^A-Z0-9]", "", text)


def symbol_matches(sent: str, bot_symbol: str) -> bool:
    derivatives = ":" in bot_symbol
    return normalized_symbol(sent, derivatives=derivatives) == normalized_symbol(bot_symbol, derivatives=derivatives)
