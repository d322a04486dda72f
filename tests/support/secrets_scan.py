"""Look for secret values, in the forms they could take on the way out, in everything a test can
collect: API answers, logs, events and stored items."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import boto3

from tests.support.api import LambdaApi, Reply

MIN_NEEDLE = 12  # shorter fragments would match by chance


def _base64_fragments(data: bytes) -> set[str]:
    """The part of the base64 text of `data` that does not depend on where `data` starts in a
    larger blob (3 alignments), in the standard and URL-safe alphabets, with padding removed."""
    fragments: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        start = 4 if offset else 0  # the first group mixes in the padding bytes
        tail = (offset + len(data)) % 3
        end = len(encoded) - 4 if tail else len(encoded)  # the last group mixes in what follows
        fragment = encoded[start:end]
        if len(fragment) >= MIN_NEEDLE:
            fragments.add(fragment)
            fragments.add(fragment.replace("+", "-").replace("/", "_"))
    return fragments


def secret_forms(value: str) -> dict[str, str]:
    """`value` as it could appear in text: raw, JSON-escaped, URL-encoded, base64 (any
    alignment), hex; keyed by a name for error messages."""
    raw = value.encode()
    forms = {
        "raw": value,
        "json": json.dumps(value)[1:-1],
        "url": quote(value, safe=""),
        "url_plus": quote_plus(value),
        "hex": binascii.hexlify(raw).decode(),
    }
    for i, fragment in enumerate(sorted(_base64_fragments(raw))):
        forms[f"base64_{i}"] = fragment
    return {name: form for name, form in forms.items() if len(form) >= MIN_NEEDLE}


@dataclass
class Finding:
    source: str
    secret: str
    form: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.secret} ({self.form}) in {self.source}: ...{self.excerpt}..."


def find_secrets(haystacks: Iterable[tuple[str, str]], secrets: dict[str, str]) -> list[Finding]:
    """Every (source, text) in which any form of any named secret occurs (case-sensitive, and
    case-insensitively for the hex form)."""
    needles = [
        (name, form_name, form) for name, value in secrets.items() for form_name, form in secret_forms(value).items()
    ]
    findings = []
    for source, text in haystacks:
        lowered = text.lower()
        for name, form_name, form in needles:
            index = lowered.find(form.lower()) if form_name == "hex" else text.find(form)
            if index >= 0:
                excerpt = text[max(0, index - 60) : index + len(form) + 20].replace(form, "<" + form_name + ">")
                findings.append(Finding(source, name, form_name, excerpt))
    return findings


@dataclass
class RecordingApi(LambdaApi):
    """A LambdaApi that keeps every answer (status, headers, body) it received."""

    replies: list[tuple[str, Reply]] = field(default_factory=list)

    def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        raw_body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        reply = super().request(method, url, body=body, raw_body=raw_body, headers=headers)
        self.replies.append((f"{method} {url}", reply))
        return reply

    def haystacks(self) -> Iterator[tuple[str, str]]:
        for label, reply in self.replies:
            yield f"response to {label}", f"{reply.status} {json.dumps(reply.headers)} {reply.text}"


def scan_table(table_name: str) -> list[dict[str, Any]]:
    """Every item of a table, in DynamoDB's wire format."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class RecordKeeper(logging.Handler):
    """Keeps every log record of every logger, with its extras, formatted as text."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.texts: list[str] = []
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.name, record.levelname, record.getMessage()]
        if record.exc_info:
            parts.append(self._formatter.formatException(record.exc_info))
        if record.stack_info:
            parts.append(record.stack_info)
        parts.append(json.dumps(record.__dict__, default=repr))
        self.texts.append("\n".join(parts))


@contextmanager
def keep_log_records(level: int = logging.INFO) -> Iterator[RecordKeeper]:
    """Collect every record reaching the root logger (and the powertools service logger, which
    may not propagate) at `level` or above, for the duration of the block."""
    from shared.observability import logger as service_logger

    keeper = RecordKeeper()
    root = logging.getLogger()
    service = service_logger._logger
    previous = root.level
    root.addHandler(keeper)
    root.setLevel(min(previous, level) if previous else level)
    attached_to_service = not service.propagate
    if attached_to_service:
        service.addHandler(keeper)
    try:
        yield keeper
    finally:
        root.removeHandler(keeper)
        root.setLevel(previous)
        if attached_to_service:
            service.removeHandler(keeper)


@contextmanager
def powertools_logs_to_stdout(level: str = "DEBUG") -> Iterator[None]:
    """Point the powertools logger's handlers at the current sys.stdout (so pytest's capfd sees
    them: they keep the stream that was current when the logger was built) and set its level."""
    from shared.observability import logger as service_logger

    service = service_logger._logger
    handlers = [h for h in service.handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.stream for h in handlers]
    previous_level = service.level
    for handler in handlers:
        handler.setStream(sys.stdout)
    service_logger.setLevel(level)
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
        service.setLevel(previous_level)
