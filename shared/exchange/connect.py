"""Opens the Exchange behind an account: the tenant's paper account, or a real exchange through
ccxt with the account's decrypted credentials.

Instances are kept for the life of the container (ccxt keeps markets and rate-limit state on
them) but the account row is read on every open: a deleted or re-keyed account is never traded
with the credentials a warm container still holds. Credentials live only in memory."""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache

from shared.config import get_settings
from shared.errors import NotFound
from shared.exchange.ccxt_adapter import CcxtExchange, Credentials, EndpointOverride
from shared.exchange.paper import PAPER_EXCHANGE_ID, PaperExchange
from shared.exchange.protocol import Exchange
from shared.exchange_accounts.models import PAPER_ACCOUNT_ID

# (tenant, account) -> (fingerprint of the stored credentials, exchange)
_instances: dict[tuple[str, str], tuple[str, Exchange]] = {}
_lock = threading.Lock()


@lru_cache(maxsize=1)
def endpoint_overrides() -> dict[str, EndpointOverride]:
    raw = get_settings().exchange_endpoint_overrides
    if not raw:
        return {}
    return {
        exchange: EndpointOverride(
            base_url=spec["base_url"], markets_file=spec.get("markets_file"), throttle=bool(spec.get("throttle", True))
        )
        for exchange, spec in json.loads(raw).items()
    }


def ccxt_exchange(exchange_id: str, credentials: Credentials | None, sandbox: bool) -> CcxtExchange:
    return CcxtExchange(
        exchange_id,
        credentials,
        sandbox=sandbox,
        timeout_ms=get_settings().exchange_timeout_ms,
        override=endpoint_overrides().get(exchange_id),
    )


def open_exchange(tenant_id: str, account_id: str) -> Exchange:
    """The account's exchange; NotFound (404) for accounts the tenant does not own (any more)."""
    key = (tenant_id, account_id)
    if account_id == PAPER_ACCOUNT_ID:
        with _lock:
            cached = _instances.get(key)
            if cached is None:
                cached = _instances[key] = ("paper", PaperExchange(tenant_id))
        return cached[1]
    from shared.exchange_accounts.models import get_account_record

    record = get_account_record(tenant_id, account_id)
    if record is None or record.status != "active":
        forget(tenant_id, account_id)
        raise NotFound(
            "no such exchange account", code="exchange_account_not_found", details={"exchange_account_id": account_id}
        )
    fingerprint = hashlib.sha256(record.credentials.encode()).hexdigest()
    with _lock:
        cached = _instances.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    from shared.exchange_accounts.credentials import decrypt_credentials

    credentials = decrypt_credentials(tenant_id, account_id, record.credentials)
    exchange = ccxt_exchange(record.exchange, credentials, record.sandbox)
    with _lock:
        _instances[key] = (fingerprint, exchange)
    return exchange


def public_exchange(exchange_id: str) -> Exchange:
    """Market data without credentials (`paper` gives the paper exchange's markets)."""
    if exchange_id == PAPER_EXCHANGE_ID:
        return PaperExchange("public")
    key = ("public", exchange_id)
    with _lock:
        cached = _instances.get(key)
    if cached is None:
        cached = ("public", ccxt_exchange(exchange_id, None, sandbox=False))
        with _lock:
            _instances[key] = cached
    return cached[1]


def forget(tenant_id: str, account_id: str) -> None:
    with _lock:
        _instances.pop((tenant_id, account_id), None)
