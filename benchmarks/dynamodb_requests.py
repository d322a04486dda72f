"""DynamoDB requests per API operation, driven through the real Lambda handlers against moto.

Each DynamoDB request is latency and money on AWS, so every operation's count is worth knowing
and worth noticing when it changes. Requests are counted twice, independently:

* client side, with a botocore `before-send` hook on every client the code uses (each PynamoDB
  model's connection, the transaction connection, powertools' idempotency client, the
  EventBridge publisher), which also tells which table/index each request was for;
* server side, by wrapping moto's WSGI app and reading each request's X-Amz-Target.

A mismatch between the two means a client was missed (or a retry happened) and is printed.

    .venv/bin/python -m benchmarks.dynamodb_requests
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from benchmarks._support import BOT_BODY, PASSWORD, start_cloud
from tests.support.aws import TestCloud

# What each (operation, table, index) is for, where the code makes it clear.
PURPOSES: dict[tuple[str, str, str], str] = {
    ("GetItem", "Users", ""): "user by email (consistent)",
    ("UpdateItem", "Users", ""): "failed-login bookkeeping",
    ("Query", "ApiKeys", "by_key_id"): "key id -> tenant (GSI)",
    ("GetItem", "ApiKeys", ""): "key row (consistent, sees revocation)",
    ("UpdateItem", "ApiKeys", ""): "last_used_at",
    ("Query", "ApiKeys", ""): "tenant's keys",
    ("UpdateItem", "Events", ""): "outbox: mark event published",
    ("GetItem", "Bots", ""): "bot row (consistent read; carries the version)",
    ("Query", "Bots", ""): "page of bots (limit+1)",
    ("PutItem", "Idempotency", ""): "idempotency: claim key (INPROGRESS)",
    ("UpdateItem", "Idempotency", ""): "idempotency: store result (COMPLETED)",
    ("GetItem", "Idempotency", ""): "idempotency: read existing record",
    ("DeleteItem", "Idempotency", ""): "idempotency: release key after failure",
    ("PutEvents", "", ""): "publish domain event(s)",
}


def request_json(request: Any) -> dict[str, Any]:
    """The JSON body of an outgoing botocore request ({} for none or non-JSON)."""
    if not request.body:
        return {}
    try:
        parsed = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    table: str = ""
    index: str = ""
    items: tuple[tuple[str, str], ...] = ()  # transactions: (Put/Update/..., table) in sent order

    def label(self) -> str:
        where = f" {self.table}" + (f".{self.index}" if self.index else "") if self.table else ""
        detail = "[" + ", ".join(f"{kind} {table}" for kind, table in self.items) + "]" if self.items else ""
        return f"{self.operation}{where}{detail}"


class ClientTally:
    """botocore `before-send` hook: one entry per HTTP request a client is about to send."""

    def __init__(self, table_names: dict[str, str]) -> None:
        self.table_names = table_names
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._hooked: set[int] = set()

    def _table(self, physical: str) -> str:
        return self.table_names.get(physical, physical)

    def hook(self, request: Any, event_name: str, **kwargs: Any) -> None:
        _before_send, service, operation = event_name.split(".", 2)
        body = request_json(request)
        items = tuple(
            (kind, self._table(spec.get("TableName", "")))
            for item in body.get("TransactItems", [])
            for kind, spec in item.items()
        )
        with self._lock:
            self.requests.append(
                Request(service, operation, self._table(body.get("TableName", "")), body.get("IndexName", ""), items)
            )

    def watch(self, client: Any) -> None:
        if id(client) not in self._hooked:
            client.meta.events.register("before-send", self.hook)
            self._hooked.add(id(client))


class ServerTally:
    """WSGI middleware around moto's app: counts requests by X-Amz-Target, as the server saw them."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.targets: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            with self._lock:
                self.targets[target.rsplit(".", 1)[-1]] += 1
        return self.app(environ, start_response)


def hook_every_client(tally: ClientTally) -> None:
    """Register the client hook on every botocore client the deployed code sends requests with."""
    from pynamodb.models import Model

    import functions.auth_api.app
    import functions.authorizer.app
    import functions.bots_api.app  # noqa: F401 - imported so every model class exists
    from shared import persistence
    from shared.aws_clients import aws_client
    from shared.events import publisher

    pending: list[type[Model]] = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if getattr(getattr(model, "Meta", None), "table_name", None):
            tally.watch(model._get_connection().connection.client)
    tally.watch(persistence.connection().client)
    tally.watch(aws_client("dynamodb"))  # the idempotency store's client
    tally.watch(publisher._client())


@dataclass
class Outcome:
    name: str
    result: str
    requests: list[Request]
    server: Counter[str]


class Driver:
    """Calls the Lambda handlers the way API Gateway would, and records each call's requests."""

    def __init__(self, cloud: TestCloud) -> None:
        from functions.auth_api.app import lambda_handler as auth
        from functions.authorizer.app import lambda_handler as authorizer
        from functions.bots_api.app import lambda_handler as bots

        self.auth, self.bots, self.authorizer = auth, bots, authorizer
        names = {res.ref: logical.removesuffix("Table") for logical, res in cloud.resolver.resources.items()}
        self.client = ClientTally(names)
        hook_every_client(self.client)
        wsgi = cloud.server._server
        if wsgi is None:
            raise SystemExit("moto server is not running")
        self.server = ServerTally(wsgi.app)
        wsgi.app = self.server
        self.outcomes: list[Outcome] = []

    def _record(self, name: str, call: Callable[[], str]) -> str:
        before_client = len(self.client.requests)
        before_server = Counter(self.server.targets)
        result = call()
        self.outcomes.append(
            Outcome(name, result, self.client.requests[before_client:], self.server.targets - before_server)
        )
        return result

    def http(
        self,
        name: str,
        handler: Any,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        caller: Any = None,
    ) -> Any:
        from tests.support.api import build_event, invoke

        replies: list[Any] = []

        def call() -> str:
            reply = invoke(handler, build_event(method, url, body=body, headers=headers, caller=caller))
            replies.append(reply)
            return f"{reply.status}" + (f" {reply.error_code}" if reply.error_code else "")

        self._record(name, call)
        return replies[0]

    def authorize(self, name: str, base: str, header: str, value: str) -> None:
        from localcloud.functions import FakeLambdaContext
        from tests.support.api import load_event

        event = copy.deepcopy(load_event(base))
        event["headers"] = {k: v for k, v in event["headers"].items() if k not in {"X-Api-Key", "Authorization"}}
        event["headers"][header] = value
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}

        def call() -> str:
            try:
                policy = self.authorizer(event, FakeLambdaContext("authorizer", 512, 10))
            except Exception as exc:  # API Gateway's contract: raising "Unauthorized" denies
                return f"denied ({exc})"
            return str(policy["policyDocument"]["Statement"][0]["Effect"]).lower()

        self._record(name, call)


def drive(cloud: TestCloud) -> list[Outcome]:
    """Every API operation once, in an order where each has what it needs."""
    from tests.support.api import Caller

    d = Driver(cloud)
    email = f"bench-{secrets.token_hex(4)}@example.com"
    signed = d.http("signup", d.auth, "POST", "/auth/signup", body={"email": email, "password": PASSWORD}).json
    owner = Caller(tenant_id=signed["tenant"]["id"], principal_id=f"user:{signed['user']['id']}")
    token = d.http("login", d.auth, "POST", "/auth/login", body={"email": email, "password": PASSWORD}).json[
        "access_token"
    ]
    key = d.http(
        "create API key", d.auth, "POST", "/api-keys", caller=owner, body={"name": "bench", "scopes": ["read", "trade"]}
    ).json
    d.http("list API keys", d.auth, "GET", "/api-keys", caller=owner)
    d.authorize("authorizer, API key (first use)", "authorizer_api_key.json", "X-Api-Key", key["key"])
    d.authorize("authorizer, API key (again <60 s)", "authorizer_api_key.json", "X-Api-Key", key["key"])
    d.authorize("authorizer, JWT", "authorizer_bearer.json", "Authorization", f"Bearer {token}")

    idem = {"Idempotency-Key": secrets.token_hex(8)}
    bot = d.http(
        "create bot (Idempotency-Key)", d.bots, "POST", "/bots", body=BOT_BODY, headers=idem, caller=owner
    ).json
    d.http("create bot, same key replayed", d.bots, "POST", "/bots", body=BOT_BODY, headers=idem, caller=owner)
    bot_url = f"/bots/{bot['id']}"
    d.http("get bot", d.bots, "GET", bot_url, caller=owner)
    d.http("list bots", d.bots, "GET", "/bots", caller=owner)
    d.http("update bot (name)", d.bots, "PATCH", bot_url, body={"name": "renamed"}, caller=owner)
    d.http("start bot", d.bots, "POST", f"{bot_url}/start", caller=owner)
    d.http("stop bot", d.bots, "POST", f"{bot_url}/stop", caller=owner)
    d.http("delete bot", d.bots, "DELETE", bot_url, caller=owner)
    d.http("revoke API key", d.auth, "DELETE", f"/api-keys/{key['id']}", caller=owner)
    d.authorize("authorizer, revoked API key", "authorizer_api_key.json", "X-Api-Key", key["key"])
    return d.outcomes


def _summary(requests: list[Request]) -> str:
    counts = Counter(r.operation for r in requests)
    return ", ".join(f"{op} {n}" for op, n in counts.items()) or "-"


def report(outcomes: list[Outcome]) -> None:
    print("\nDynamoDB requests per API operation (real handlers, moto; client hook and moto server both count)\n")
    header = f"{'operation':<34} {'result':<21} {'DynamoDB':>8}  {'by operation':<46} {'server':>6}  other AWS"
    print(header)
    print("-" * len(header))
    mismatches = []
    for o in outcomes:
        ddb = [r for r in o.requests if r.service == "dynamodb"]
        server_ddb = sum(n for target, n in o.server.items() if target != "PutEvents")
        client_all = Counter(r.operation for r in o.requests)
        if client_all != o.server:
            mismatches.append(f"{o.name}: client {dict(client_all)} vs server {dict(o.server)}")
        other = [r for r in o.requests if r.service != "dynamodb"]
        print(f"{o.name:<34} {o.result:<21} {len(ddb):>8}  {_summary(ddb):<46} {server_ddb:>6}  {_summary(other)}")
    print("\nEach request, in order, and what it is for:")
    for o in outcomes:
        print(f"  {o.name}")
        for r in o.requests:
            purpose = PURPOSES.get((r.operation, r.table, r.index), "")
            if r.operation == "TransactWriteItems":
                purpose = "the change + its outbox row(s), atomically"
            print(f"      {r.label():<70} {purpose}")
        if not o.requests:
            print("      (none)")
    if mismatches:
        print("\nClient and server counts DIFFER (a client was not hooked, or a request was retried):")
        for line in mismatches:
            print(f"  {line}")
    else:
        print("\nClient-side and server-side counts agree for every operation.")


def main() -> None:
    cloud = start_cloud()  # before anything from shared/functions is imported
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # keep handler INFO lines out of the table
    try:
        report(drive(cloud))
    finally:
        cloud.stop()


if __name__ == "__main__":
    main()
