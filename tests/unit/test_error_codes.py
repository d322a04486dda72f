"""Every error code the code can answer is in shared.error_codes, with the status it is raised with,
and the README's table is the one generated from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import shared.orders.changes
import shared.webhooks.ssrf
from shared.error_codes import ERROR_CODES, codes_for_status, readme_with_table
from shared.errors import AppError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [path for folder in ("shared", "functions", "localcloud") for path in (ROOT / folder).rglob("*.py")]


def _error_classes() -> dict[str, type[AppError]]:
    assert shared.orders.changes and shared.webhooks.ssrf  # imported for their AppError subclasses
    found: dict[str, type[AppError]] = {}
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def _signal_format_codes() -> list[tuple[str, int | None, str]]:
    """Codes given first to `SignalFormatError(code, message)` (the signals route answers them)."""
    found: list[tuple[str, int | None, str]] = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "SignalFormatError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.append((str(node.args[0].value), None, f"{path.relative_to(ROOT)}:{node.lineno}"))
    return found


def _raised_codes() -> list[tuple[str, int | None, str]]:
    """(code, status if known, where) for every `code="..."` keyword and `code = "..."` class attribute."""
    classes = _error_classes()
    found: list[tuple[str, int | None, str]] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant) and keyword.value.value:
                        status = classes[name].status if name in classes else None
                        found.append((str(keyword.value.value), status, f"{where}:{node.lineno}"))
                if name == "error_response" and len(node.args) >= 2:
                    status_arg, code_arg = node.args[0], node.args[1]
                    if isinstance(code_arg, ast.Constant):
                        literal = status_arg.value if isinstance(status_arg, ast.Constant) else None
                        found.append(
                            (
                                str(code_arg.value),
                                literal if isinstance(literal, int) else None,
                                f"{where}:{node.lineno}",
                            )
                        )
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if not isinstance(statement, ast.Assign):
                        continue
                    if any(isinstance(t, ast.Name) and t.id == "code" for t in statement.targets):
                        value = statement.value
                        if isinstance(value, ast.Constant):
                            cls = classes.get(node.name)
                            found.append((str(value.value), cls.status if cls else None, f"{where}:{node.lineno}"))
    return found + _signal_format_codes()


def _gateway_codes() -> list[str]:
    texts = [
        (ROOT / "template.yaml").read_text(),
        (ROOT / "localcloud" / "gateway.py").read_text(),
        (ROOT / "shared" / "web.py").read_text(),
    ]
    pattern = re.compile(r'\\?"code\\?":\s*\\?"([a-z_]+)\\?"|\b\d{3}: "([a-z_]+)"|, "(http_error)"\)')
    return [next(group for group in match.groups() if group) for text in texts for match in pattern.finditer(text)]


def test_the_scan_finds_what_it_should() -> None:
    codes = {code for code, _, _ in _raised_codes()}
    assert {"kill_switch_engaged", "not_found", "webhook_url_refused", "malformed_json"} <= codes
    assert {"route_not_found", "method_not_allowed", "http_error", "unauthorized"} <= set(_gateway_codes())


def test_every_raised_code_is_registered_with_its_status() -> None:
    problems = []
    for code, status, where in _raised_codes():
        entry = ERROR_CODES.get(code)
        if entry is None:
            problems.append(f"{where}: {code} is not in shared/error_codes.py")
        elif status is not None and status not in entry.statuses:
            problems.append(f"{where}: {code} is raised with {status}, registered as {entry.statuses}")
    for code in _gateway_codes():
        if code not in ERROR_CODES:
            problems.append(f"gateway/web: {code} is not in shared/error_codes.py")
    assert problems == []


def test_every_registered_code_is_raised_somewhere() -> None:
    used = {code for code, _, _ in _raised_codes()} | set(_gateway_codes())
    assert sorted(set(ERROR_CODES) - used) == []


def test_the_readme_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_with_table(readme) == readme, "run `python -m tools.openapi` and commit README.md"


def test_each_status_documents_its_codes() -> None:
    assert "kill_switch_engaged" in codes_for_status(409)
    assert "invalid_credentials" in codes_for_status(401) and "invalid_credentials" in codes_for_status(422)


def test_the_openapi_lists_the_codes() -> None:
    from shared.api_spec import load_spec

    spec = load_spec()
    assert spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"] == sorted(ERROR_CODES)
    create_bot = spec["paths"]["/bots"]["post"]["responses"]
    assert "`kill_switch_engaged`" in create_bot["409"]["description"]
    assert "`unsupported_media_type`" in create_bot["415"]["description"]
