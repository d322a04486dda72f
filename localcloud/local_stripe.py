"""A local Stripe for `make dev` and the tests: a real HTTP server the `stripe` client talks to
through its base URL. Dev-only: never deployed.

localstripe (PyPI) serves customers, products, plans/prices, payment methods, subscriptions and
invoices. What it lacks is added here, on the same aiohttp application and store:
- `Idempotency-Key` handling like Stripe's (the same key replays the first answer; with other
  parameters it is an `idempotency_error`);
- Checkout Sessions (`/v1/checkout/sessions`), Customer Portal sessions
  (`/v1/billing_portal/sessions`) and billing meter events (`/v1/billing/meter_events`, deduplicated
  by `identifier` as Stripe does);
- `POST /_local/checkout/sessions/{id}/complete`: what a buyer paying on Stripe's page does (a card,
  the subscription, the session marked complete), for `python -m tools.stripe_complete_checkout`.

Webhooks are not sent by the server: `signed_event` builds a signed delivery with stripe's own
`WebhookSignature` helper and `deliver` posts it, so the caller decides what arrives and when.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

LOCAL_SECRET_KEY = "sk_test_local_only"
LOCAL_WEBHOOK_SECRET = "whsec_local_only_not_a_real_secret"
LOCAL_PRICES = {"pro": "price_pro_local", "team": "price_team_local"}
DEFAULT_PORT = 12111
LOCAL_ONLY = ("/_local/", "/checkout/pay/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message}}, status=status)


@dataclass
class _Extras:
    """State the localstripe store has no place for."""

    base_url: str = ""
    checkout_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    portal_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _resources() -> Any:
    from localstripe import resources

    return resources


def _server() -> Any:
    from localstripe import server

    return server


class _Routes:
    """What localstripe lacks, served beside its own routes on one aiohttp application."""

    def __init__(self, extras: _Extras) -> None:
        self.extras = extras

    @web.middleware
    async def idempotency(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key:
            return await handler(request)
        body = await request.text()
        scoped = f"{request.path}|{key}"
        with self.extras.lock:
            seen = self.extras.idempotent.get(scoped)
        if seen is not None:
            if seen[0] != body:
                return _error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                )
            return web.Response(status=seen[1], body=seen[2], content_type="application/json")
        response = await handler(request)
        if isinstance(response, web.Response) and response.body is not None and response.status < 500:
            with self.extras.lock:
                self.extras.idempotent[scoped] = (body, response.status, bytes(response.body))  # type: ignore[arg-type]
        return response

    async def create_checkout_session(self, request: web.Request) -> web.Response:
        data = await _server().get_post_data(request) or {}
        customer = data.get("customer")
        items = data.get("line_items") or []
        if data.get("mode") != "subscription" or not customer or len(items) != 1:
            return _error(400, "invalid_request_error", "mode=subscription, a customer and one line item are required")
        _resources().Customer._api_retrieve(customer)  # 404 when unknown
        _resources().Plan._api_retrieve(items[0]["price"])  # prices are localstripe plans
        session_id = _new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "status": "open",
            "payment_status": "unpaid",
            "customer": customer,
            "client_reference_id": data.get("client_reference_id"),
            "metadata": data.get("metadata") or {},
            "subscription": None,
            "success_url": data.get("success_url"),
            "cancel_url": data.get("cancel_url"),
            "url": f"{self.extras.base_url}/checkout/pay/{session_id}",
            "created": int(time.time()),
            "livemode": False,
            "_price": items[0]["price"],
            "_subscription_metadata": (data.get("subscription_data") or {}).get("metadata") or {},
        }
        self.extras.checkout_sessions[session_id] = session
        return web.json_response(_public(session))

    async def get_checkout_session(self, request: web.Request) -> web.Response:
        session = self.extras.checkout_sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "invalid_request_error", "No such checkout session")
        return web.json_response(_public(session))

    async def complete_checkout_session(self, request: web.Request) -> web.Response:
        session = self.extras.checkout_sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "invalid_request_error", "No such checkout session")
        if session["status"] != "open":
            return _error(409, "invalid_request_error", "This checkout session is not open")
        card = _resources().PaymentMethod(
            type="card", card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
        )
        _resources().PaymentMethod._api_attach(card.id, customer=session["customer"])
        _resources().Customer._api_update(session["customer"], invoice_settings={"default_payment_method": card.id})
        subscription = _resources().Subscription(
            customer=session["customer"],
            items=[{"plan": session["_price"]}],
            metadata=session["_subscription_metadata"],
        )
        session.update(status="complete", payment_status="paid", subscription=subscription.id)
        return web.json_response({"session": _public(session), "subscription": subscription._export()})

    async def create_portal_session(self, request: web.Request) -> web.Response:
        data = await _server().get_post_data(request) or {}
        customer = data.get("customer")
        if not customer:
            return _error(400, "invalid_request_error", "customer is required")
        _resources().Customer._api_retrieve(customer)
        session_id = _new_id("bps")
        portal = {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": data.get("return_url"),
            "url": f"{self.extras.base_url}/portal/{session_id}",
            "created": int(time.time()),
            "livemode": False,
        }
        self.extras.portal_sessions[session_id] = portal
        return web.json_response(portal)

    async def create_meter_event(self, request: web.Request) -> web.Response:
        data = await _server().get_post_data(request) or {}
        payload = data.get("payload") or {}
        identifier = data.get("identifier") or _new_id("mev")
        if not data.get("event_name") or "stripe_customer_id" not in payload or "value" not in payload:
            return _error(400, "invalid_request_error", "event_name, payload[stripe_customer_id], payload[value]")
        with self.extras.lock:  # first one wins, like Stripe's uniqueness of `identifier`
            event = self.extras.meter_events.setdefault(
                identifier,
                {
                    "object": "billing.meter_event",
                    "event_name": data["event_name"],
                    "identifier": identifier,
                    "payload": payload,
                    "timestamp": int(data.get("timestamp") or time.time()),
                    "created": int(time.time()),
                    "livemode": False,
                },
            )
        return web.json_response(event)

    async def list_meter_events(self, request: web.Request) -> web.Response:
        with self.extras.lock:
            return web.json_response({"data": list(self.extras.meter_events.values())})

    async def pay_page(self, request: web.Request) -> web.Response:
        session_id = request.match_info["id"]
        text = f"Local Stripe checkout. Complete it with:\n  python -m tools.stripe_complete_checkout {session_id}\n"
        return web.Response(text=text)

    @web.middleware
    async def stripe_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Secret-key auth on the API, as localstripe checks it; none on the local-only routes."""
        if request.path.startswith(LOCAL_ONLY):
            return await handler(request)
        response: web.StreamResponse = await _server().auth_middleware(request, handler)
        return response

    def app(self) -> web.Application:
        app = web.Application(middlewares=[_server().error_middleware, self.stripe_auth, self.idempotency])
        app.router.add_post("/v1/checkout/sessions", self.create_checkout_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self.get_checkout_session)
        app.router.add_post("/v1/billing_portal/sessions", self.create_portal_session)
        app.router.add_post("/v1/billing/meter_events", self.create_meter_event)
        app.router.add_post("/_local/checkout/sessions/{id}/complete", self.complete_checkout_session)
        app.router.add_get("/_local/meter_events", self.list_meter_events)
        app.router.add_get("/checkout/pay/{id}", self.pay_page)
        for route in _server().app.router.routes():  # localstripe's API, in its order
            info = route.resource.get_info() if route.resource is not None else {}
            path = info.get("path") or info.get("formatter")
            if path and path.startswith("/v1/"):
                app.router.add_route(route.method, path, _async(route.handler))
        return app


def _async(handler: Any) -> Handler:
    """localstripe's plain-function handlers as coroutines (aiohttp deprecates bare functions)."""
    if asyncio.iscoroutinefunction(handler):
        return handler  # type: ignore[no-any-return]

    async def call(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = handler(request)
        return response

    return call


def _public(session: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in session.items() if not k.startswith("_")}


class LocalStripe:
    """localstripe plus our extras, served from a background thread with its own event loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.url = ""
        self._extras = _Extras()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalStripe:
        from localstripe import resources

        resources.store.dump_to_disk = lambda: None  # keep the store in memory (its default pickles to /tmp)
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._runner = web.AppRunner(_Routes(self._extras).app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            try:
                self._loop.run_until_complete(site.start())
            except OSError:  # the usual port is taken (another local cloud): any free one
                site = web.TCPSite(self._runner, self.host, 0)
                self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = self._extras.base_url = f"http://{self.host}:{self.port}"
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="local-stripe", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the local Stripe server did not start")
        self.create_prices()
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def create_prices(self) -> None:
        """The plans' prices (localstripe calls a price a plan), with our local ids."""
        for name, price in LOCAL_PRICES.items():
            product = _call(self.url, "POST", "/v1/products", {"name": f"CryptoOrchestrator {name}"})
            data = {"id": price, "product": product["id"], "amount": "2900", "currency": "usd", "interval": "month"}
            _call(self.url, "POST", "/v1/plans", data, allow=(409,))

    def environment(self) -> dict[str, str]:
        """The settings that point the billing code at this server."""
        return {
            "STRIPE_API_BASE": self.url,
            "STRIPE_SECRET_KEY": LOCAL_SECRET_KEY,
            "STRIPE_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRET,
            "STRIPE_PRICE_PRO": LOCAL_PRICES["pro"],
            "STRIPE_PRICE_TEAM": LOCAL_PRICES["team"],
        }


def _call(base: str, method: str, path: str, data: dict[str, str] | None = None, allow: tuple[int, ...] = ()) -> Any:
    from urllib.error import HTTPError
    from urllib.parse import urlencode

    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(  # noqa: S310 - a local URL we built
        base + path, data=body, method=method, headers={"Authorization": f"Bearer {LOCAL_SECRET_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - a local URL we built
            return json.loads(response.read())
    except HTTPError as exc:
        if exc.code in allow:
            return None
        raise


def complete_checkout(stripe_url: str, session_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pay a checkout session on the local Stripe: returns the completed session and its subscription."""
    answer = _call(stripe_url, "POST", f"/_local/checkout/sessions/{session_id}/complete", {})
    return answer["session"], answer["subscription"]


def meter_events(stripe_url: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = _call(stripe_url, "GET", "/_local/meter_events")["data"]
    return events


def signed_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    secret: str = LOCAL_WEBHOOK_SECRET,
    event_id: str | None = None,
    created: int | None = None,
    signed_at: int | None = None,
) -> tuple[bytes, str]:
    """A Stripe event delivery: its body and `Stripe-Signature` header, signed with stripe's helper."""
    import stripe

    now = int(time.time())
    event = {
        "id": event_id or _new_id("evt"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": created if created is not None else now,
        "type": event_type,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    }
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=signed_at or now)
    return body.encode(), header


def deliver(webhook_url: str, body: bytes, header: str) -> tuple[int, str]:
    """POST one delivery as Stripe would; returns the status and body of the answer."""
    from urllib.error import HTTPError

    request = urllib.request.Request(  # noqa: S310 - a local URL
        webhook_url, data=body, method="POST", headers={"Content-Type": "application/json", "Stripe-Signature": header}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a local URL
            return response.status, response.read().decode()
    except HTTPError as exc:
        return exc.code, exc.read().decode()
