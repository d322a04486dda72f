"""scrypt password hashing. Each hash costs ~50 ms, so hashes are shared where possible."""

from __future__ import annotations

import base64
from functools import lru_cache

import pytest

from shared.auth.passwords import hash_password, verify_password

PASSWORD = "correct horse battery staple \u00e9\u00e8"


@lru_cache(maxsize=1)
def stored() -> str:
    return hash_password(PASSWORD)


def test_round_trip() -> None:
    assert verify_password(PASSWORD, stored()) is True


def test_encoding_shape() -> None:
    scheme, n, r, p, salt, digest = stored().split("$")
    assert scheme == "scrypt"
    assert int(n) >= 2**14
    assert int(r) >= 8
    assert int(p) >= 1
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 32
    assert PASSWORD not in stored()


@pytest.mark.parametrize(
    "attempt",
    ["", "correct horse battery staple", PASSWORD.upper(), PASSWORD + " ", " " + PASSWORD, PASSWORD[:-1]],
    ids=repr,
)
def test_wrong_password_fails(attempt: str) -> None:
    assert verify_password(attempt, stored()) is False


def test_same_password_hashes_differ_by_salt() -> None:
    second = hash_password(PASSWORD)
    assert second != stored()
    assert second.split("$")[4] != stored().split("$")[4]
    assert verify_password(PASSWORD, second) is True


def _tampered() -> list[str]:
    scheme, n, r, p, salt, digest = stored().split("$")
    raw = bytearray(base64.b64decode(digest))
    raw[0] ^= 0x01
    flipped = base64.b64encode(bytes(raw)).decode()
    other_salt = base64.b64encode(b"\x00" * 16).decode()
    return [
        "$".join([scheme, n, r, p, salt, flipped]),  # digest changed
        "$".join([scheme, n, r, p, other_salt, digest]),  # salt changed
        "$".join(["bcrypt", n, r, p, salt, digest]),  # scheme changed
        "$".join([scheme, n, r, p, salt, ""]),  # empty digest
        "$".join([scheme, "abc", r, p, salt, digest]),  # non-numeric cost
        "$".join([scheme, "1000", r, p, salt, digest]),  # n not a power of two
        "$".join([scheme, "0", r, p, salt, digest]),
        "$".join([scheme, n, "0", p, salt, digest]),
        "$".join([scheme, n, r, "0", salt, digest]),
        "$".join([scheme, n, r, "-1", salt, digest]),
        "$".join([scheme, str(2**30), r, p, salt, digest]),  # over the memory limit
        "$".join([scheme, n, r, p, "!!!not base64!!!", digest]),
        "$".join([scheme, n, r, p, salt, "%%%%"]),
        "$".join([scheme, n, r, p, salt, digest, "extra"]),
        "$".join([scheme, n, r, p, salt]),
    ]


GARBAGE = ["", "$", "$$$$$", "scrypt", "plaintext-password", PASSWORD, "scrypt$$$$$", "\x00" * 10]


def test_tampered_encodings_return_false() -> None:
    for encoded in _tampered():
        assert verify_password(PASSWORD, encoded) is False, encoded


@pytest.mark.parametrize("encoded", GARBAGE, ids=repr)
def test_garbage_encodings_return_false(encoded: str) -> None:
    assert verify_password(PASSWORD, encoded) is False


def test_truncated_digest_returns_false() -> None:
    scheme, n, r, p, salt, digest = stored().split("$")
    truncated = base64.b64encode(base64.b64decode(digest)[:4]).decode()
    assert verify_password(PASSWORD, "$".join([scheme, n, r, p, salt, truncated])) is False
