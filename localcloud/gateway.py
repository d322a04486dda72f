"""A local stand-in for API Gateway (REST API, proxy integration, REQUEST authorizer).

Routes come from the template's `Api` events. Each HTTP request becomes a real REST proxy event;
the authorizer runs first and its policy is honoured; gateway responses (401/403/404/413/5xx)
use the template's GatewayResponses, so clients see the same bodies as on AWS.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from localcloud.functions import FunctionSpec
from localcloud.template import Resolver, resources_of_type

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit
READ_TIMEOUT_SECONDS = 30.0  # a request whose body never arrives is dropped after this
_DEFAULT_GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, {"message": "Unauthorized"}),
    "ACCESS_DENIED": (403, {"message": "User is not authorized to access this resource"}),
    "MISSING_AUTHENTICATION_TOKEN": (403, {"message": "Missing Authentication Token"}),
    "REQUEST_TOO_LARGE": (413, {"message": "Request Too Long"}),
    "AUTHORIZER_FAILURE": (500, {"message": None}),
    "INTEGRATION_FAILURE": (502, {"message": "Internal server error"}),
}
_FAMILY = {
    "UNAUTHORIZED": "DEFAULT_4XX",
    "ACCESS_DENIED": "DEFAULT_4XX",
    "MISSING_AUTHENTICATION_TOKEN": "DEFAULT_4XX",
    "REQUEST_TOO_LARGE": "DEFAULT_4XX",
    "AUTHORIZER_FAILURE": "DEFAULT_5XX",
    "INTEGRATION_FAILURE": "DEFAULT_5XX",
}


@dataclass
class Route:
    method: str  # upper case, or ANY
    template: str
    pattern: re.Pattern[str]
    function: FunctionSpec
    authorized: bool

    @property
    def specificity(self) -> tuple[int, int, int]:
        greedy = self.template.count("+}")
        params = self.template.count("{")
        return (greedy, params, -len(self.template))


def _compile(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Gateway:
    """Routes HTTP requests to the template's functions, behind its authorizer."""

    def __init__(self, resolver: Resolver, functions: dict[str, FunctionSpec]) -> None:
        apis = resources_of_type(resolver.template, "AWS::Serverless::Api")
        if len(apis) != 1:
            raise ValueError("the local gateway serves exactly one AWS::Serverless::Api")
        self.api_logical_id, api = next(iter(apis.items()))
        props = api["Properties"]
        self.stage = str(props["StageName"])
        self.region = resolver.region
        self.account_id = resolver.account_id
        self.gateway_responses = props.get("GatewayResponses", {})
        auth = props.get("Auth", {})
        self.authorizer: FunctionSpec | None = None
        default = auth.get("DefaultAuthorizer")
        if default:
            arn = auth["Authorizers"][default]["FunctionArn"]
            logical = arn["Fn::GetAtt"][0]
            self.authorizer = functions[logical]
        self.routes: list[Route] = []
        for function in functions.values():
            for event in function.events.values():
                if event.get("Type") != "Api":
                    continue
                ev = event["Properties"]
                authorizer_name = ev.get("Auth", {}).get("Authorizer", default)
                self.routes.append(
                    Route(
                        method=str(ev["Method"]).upper(),
                        template=ev["Path"],
                        pattern=_compile(ev["Path"]),
                        function=function,
                        authorized=bool(authorizer_name) and authorizer_name != "NONE",
                    )
                )
        self.routes.sort(key=lambda r: r.specificity)

    def functions(self) -> list[FunctionSpec]:
        """Every function a request can invoke: the routes' and the authorizer."""
        found = {route.function.logical_id: route.function for route in self.routes}
        if self.authorizer is not None:
            found[self.authorizer.logical_id] = self.authorizer
        return [found[name] for name in sorted(found)]

    # ------------------------------------------------------------------ responses
    def gateway_response(self, kind: str) -> Response:
        status, body = _DEFAULT_GATEWAY_RESPONSES[kind]
        configured = self.gateway_responses.get(kind) or self.gateway_responses.get(_FAMILY[kind])
        text = json.dumps(body)
        if configured:
            status = int(configured.get("StatusCode", status))
            text = configured.get("ResponseTemplates", {}).get("application/json", text)
        return Response(status, [("Content-Type", "application/json")], text.encode())

    # ------------------------------------------------------------------ routing
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def allowed_methods(self, path: str) -> list[str]:
        """Methods the template routes at this path (empty when no route has the path)."""
        return sorted({route.method for route in self.routes if route.pattern.match(path)})

    @staticmethod
    def method_not_allowed(method: str, allowed: list[str]) -> Response:
        """405 in our error shape with `Allow`, for a path the template routes under other methods."""
        body = {
            "error": {
                "code": "method_not_allowed",
                "details": {},
                "message": f"{method} is not served here; allowed: {', '.join(allowed)}",
            }
        }
        return Response(
            405, [("Content-Type", "application/json"), ("Allow", ", ".join(allowed))], json.dumps(body).encode()
        )

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> Response:
        split = urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if not (split.path == prefix or split.path.startswith(prefix + "/")):
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN")
        path = split.path[len(prefix) :] or "/"
        if len(body) > MAX_PAYLOAD_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE")
        matched = self.match(method, path)
        if matched is None:
            allowed = self.allowed_methods(path)
            if allowed:
                return self.method_not_allowed(method, allowed)
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN")
        route, path_params = matched
        event = self._proxy_event(method, path, split.query, headers, body, route, path_params, source_ip)
        if route.authorized and self.authorizer is not None:
            denied = self._authorize(event)
            if denied is not None:
                return denied
        try:
            result = route.function.invoke(event)
        except Exception as exc:  # what Lambda reports as a function error
            print(f"[gateway] {route.function.logical_id} raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return self.gateway_response("INTEGRATION_FAILURE")
        return self._proxy_response(result)

    # ------------------------------------------------------------------ events
    def _proxy_event(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        route: Route,
        path_params: dict[str, str],
        source_ip: str,
    ) -> dict[str, Any]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        q_single: dict[str, str] = {}
        q_multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            q_single[name] = value
            q_multi.setdefault(name, []).append(value)
        try:
            text: str | None = body.decode() if body else None
            encoded = False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        return {
            "resource": route.template,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": q_single or None,
            "multiValueQueryStringParameters": q_multi or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": "localapi",
                "resourceId": "local",
                "resourcePath": route.template,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "extendedRequestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "domainName": single.get("Host", "localhost"),
                "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent")},
            },
            "body": text,
            "isBase64Encoded": encoded,
        }

    def _authorize(self, event: dict[str, Any]) -> Response | None:
        """Run the REQUEST authorizer; None to proceed (context attached), else the denial."""
        if self.authorizer is None:
            return None
        method_arn = (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:localapi/{self.stage}/"
            f"{event['httpMethod']}{event['path']}"
        )
        auth_event = {
            "type": "REQUEST",
            "methodArn": method_arn,
            **{
                k: event[k]
                for k in (
                    "resource",
                    "path",
                    "httpMethod",
                    "headers",
                    "multiValueHeaders",
                    "queryStringParameters",
                    "multiValueQueryStringParameters",
                    "pathParameters",
                    "stageVariables",
                    "requestContext",
                )
            },
        }
        try:
            result = self.authorizer.invoke(auth_event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return self.gateway_response("UNAUTHORIZED")
            print(f"[gateway] authorizer raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return self.gateway_response("AUTHORIZER_FAILURE")
        if not isinstance(result, dict) or not _policy_allows(result.get("policyDocument"), method_arn):
            return self.gateway_response("ACCESS_DENIED")
        context = {k: v for k, v in (result.get("context") or {}).items()}
        context["principalId"] = result.get("principalId")
        event["requestContext"]["authorizer"] = context
        return None

    @staticmethod
    def _proxy_response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return Response(502, [("Content-Type", "application/json")], b'{"message": "Internal server error"}')
        headers: list[tuple[str, str]] = []
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((name, str(v)) for v in values)
        seen = {name.lower() for name, _ in headers}
        headers.extend((k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() not in seen)
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return Response(int(result["statusCode"]), headers, raw)


def _policy_allows(policy: Any, method_arn: str) -> bool:
    if not isinstance(policy, dict):
        return False
    allowed = False
    for statement in policy.get("Statement", []):
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


class _GatewayHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that disconnects or stalls is routine: one line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        print(f"[gateway] error serving {client_address}: {type(error).__name__}: {error}", file=sys.stderr)


def make_http_server(
    gateway: Gateway, host: str, port: int, quiet: bool = False, read_timeout: float = READ_TIMEOUT_SECONDS
) -> ThreadingHTTPServer:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = read_timeout  # a socket timeout: a client that stops sending cannot hold a thread forever

        def __getattr__(self, name: str) -> Any:
            """Every method (TRACE, PROPFIND, ...) reaches the gateway, which answers 405 or 404 in
            our error shape rather than http.server's HTML 501."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def _serve(self) -> None:
            started = time.perf_counter()
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                response = Response(
                    400,
                    [("Content-Type", "application/json")],
                    json.dumps(
                        {"error": {"code": "bad_request", "message": "invalid Content-Length", "details": {}}}
                    ).encode(),
                )
                self.close_connection = True
            elif length > MAX_PAYLOAD_BYTES:
                response = gateway.gateway_response("REQUEST_TOO_LARGE")
                self._discard(length)
            else:
                try:
                    body = self.rfile.read(length) if length else b""
                except TimeoutError:
                    body = b""
                if len(body) < length:  # the client stopped sending (timeout) or hung up
                    self.close_connection = True
                    return
                response = gateway.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            if not quiet:
                elapsed = (time.perf_counter() - started) * 1000
                print(f"[gateway] {self.command} {self.path} -> {response.status} ({elapsed:.1f} ms)", flush=True)

        def _discard(self, length: int) -> None:
            """Read (and drop) an oversized body so the client sees the 413, not a broken pipe."""
            remaining = min(length, 8 * MAX_PAYLOAD_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            if length > 8 * MAX_PAYLOAD_BYTES:
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            return

    return _GatewayHttpServer((host, port), RequestHandler)
