"""Login throttling per (email, client IP) and per IP with backoff: a stranger cannot lock the owner
out, and an unknown email is throttled exactly like a known one."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.auth import login_throttle
from shared.auth.login_throttle import LoginThrottleRecord
from shared.clock import utc_now
from shared.config import get_settings
from tests.support.api import Reply, build_event, invoke
from tests.support.tenants import PASSWORD, new_tenant


def _ip() -> str:
    return f"198.51.100.{secrets.randbelow(250) + 1}-{secrets.token_hex(3)}"


def _login(auth_handler: Any, email: str, password: str, ip: str) -> Reply:
    event = build_event("POST", "/auth/login", body={"email": email, "password": password}, caller=None)
    event["requestContext"]["identity"] = {"sourceIp": ip, "userAgent": "test"}
    return invoke(auth_handler, event)


def _fail(auth_handler: Any, email: str, ip: str, times: int) -> list[int]:
    return [_login(auth_handler, email, f"wrong-password-{i}", ip).status for i in range(times)]


def test_a_strangers_failures_do_not_lock_the_owner_out(auth_handler: Any) -> None:
    _, email = new_tenant(auth_handler)
    stranger, owner = _ip(), _ip()
    assert _fail(auth_handler, email, stranger, 5) == [401, 401, 401, 401, 429]
    throttled = _login(auth_handler, email, PASSWORD, stranger)  # even the right password, from there
    assert throttled.status == 429 and throttled.error_code == "login_locked"
    assert int(throttled.headers["retry-after"]) > 0
    assert _login(auth_handler, email, PASSWORD, owner).status == 200
    assert _login(auth_handler, email, "wrong-password-x", owner).status == 401


def test_unknown_emails_are_throttled_exactly_like_known_ones(auth_handler: Any) -> None:
    _, known = new_tenant(auth_handler)
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    replies = [
        [_login(auth_handler, email, f"wrong-{i}-password", ip) for i in range(6)]
        for email, ip in ((known, _ip()), (unknown, _ip()))
    ]
    assert [r.status for r in replies[0]] == [r.status for r in replies[1]] == [401] * 4 + [429, 429]
    assert [r.json for r in replies[0]] == [r.json for r in replies[1]]


def test_backoff_doubles_with_each_failure_after_the_threshold(auth_handler: Any) -> None:
    _, email = new_tenant(auth_handler)
    ip = _ip()
    _fail(auth_handler, email, ip, 5)
    key = f"#login-throttle#pair#{ip}#{email}"
    waits = []
    for _ in range(2):
        row = LoginThrottleRecord.get(key, consistent_read=True)
        row.update(actions=[LoginThrottleRecord.blocked_until.set(utc_now() - timedelta(seconds=1))])  # time passed
        reply = _login(auth_handler, email, "wrong-password-again", ip)
        assert reply.status == 429
        waits.append(int(reply.headers["retry-after"]))
    assert waits == [60, 120]


def test_a_successful_login_clears_the_clients_failures(auth_handler: Any) -> None:
    _, email = new_tenant(auth_handler)
    ip = _ip()
    assert _fail(auth_handler, email, ip, 4) == [401] * 4
    assert _login(auth_handler, email, PASSWORD, ip).status == 200
    assert _fail(auth_handler, email, ip, 4) == [401] * 4


def test_one_ip_trying_many_emails_is_throttled(auth_handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = replace(get_settings(), login_ip_max_failures=3)
    monkeypatch.setattr(login_throttle, "get_settings", lambda: settings)
    ip = _ip()
    statuses = [
        _login(auth_handler, f"guess-{i}-{secrets.token_hex(3)}@example.com", "some-password-1", ip).status
        for i in range(4)
    ]
    assert statuses == [401, 401, 429, 429]
    _, email = new_tenant(auth_handler)
    assert _login(auth_handler, email, PASSWORD, _ip()).status == 200  # other clients are unaffected


def test_signups_for_taken_emails_are_throttled_per_ip(auth_handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = replace(get_settings(), login_ip_max_failures=2)
    monkeypatch.setattr(login_throttle, "get_settings", lambda: settings)
    _, email = new_tenant(auth_handler)
    prober = _ip()

    def signup(address: str, ip: str) -> Reply:
        event = build_event("POST", "/auth/signup", body={"email": address, "password": PASSWORD}, caller=None)
        event["requestContext"]["identity"] = {"sourceIp": ip, "userAgent": "test"}
        return invoke(auth_handler, event)

    codes = [signup(email, prober).error_code for _ in range(4)]
    assert codes == ["email_taken", "email_taken", "login_locked", "login_locked"]
    assert signup(f"new-{secrets.token_hex(4)}@example.com", _ip()).status == 201  # others are unaffected
