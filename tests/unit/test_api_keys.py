"""API key generation, parsing and hash checks (pure: no table access)."""

from __future__ import annotations

import hashlib
import re

import pytest

from shared.auth.api_keys import generate_api_key, hash_key, hash_matches, key_id_of

KEY_FORMAT = re.compile(r"co_([0-9a-hjkmnp-tv-z]{26})_([A-Za-z0-9_-]{43})")


def test_generated_key_format() -> None:
    key = generate_api_key()
    match = KEY_FORMAT.fullmatch(key.plaintext)
    assert match is not None, key.plaintext
    assert key.key_id == f"key_{match.group(1)}"
    assert key.secret_hash == hashlib.sha256(key.plaintext.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", key.secret_hash)
    # The stored material never contains the secret part.
    assert match.group(2) not in key.key_id
    assert match.group(2) not in key.secret_hash


def test_generated_keys_differ() -> None:
    keys = [generate_api_key() for _ in range(20)]
    assert len({k.plaintext for k in keys}) == 20
    assert len({k.key_id for k in keys}) == 20
    assert len({k.secret_hash for k in keys}) == 20
    assert len({k.plaintext.rsplit("_", 1)[1] for k in keys}) == 20


def test_key_id_of_generated_key() -> None:
    key = generate_api_key()
    assert key_id_of(key.plaintext) == key.key_id


def test_key_id_of_hand_made_key() -> None:
    lookup = "01hzy3k6b8c9d0e1f2g3h4j5k6"
    assert len(lookup) == 26
    secret = "A" * 20 + "-_" + "z9" * 10 + "Q"
    assert len(secret) == 43
    assert key_id_of(f"co_{lookup}_{secret}") == f"key_{lookup}"


GOOD_LOOKUP = "a" * 26
GOOD_SECRET = "b" * 43


@pytest.mark.parametrize(
    "plaintext",
    [
        "",
        "co_",
        f"co_{GOOD_LOOKUP}",
        f"co_{GOOD_LOOKUP}_",
        f"xx_{GOOD_LOOKUP}_{GOOD_SECRET}",
        f"CO_{GOOD_LOOKUP}_{GOOD_SECRET}",
        f"co_{'A' * 26}_{GOOD_SECRET}",
        f"co_{'a' * 25}_{GOOD_SECRET}",
        f"co_{'a' * 27}_{GOOD_SECRET}",
        f"co_{GOOD_LOOKUP}_{'b' * 42}",
        f"co_{GOOD_LOOKUP}_{'b' * 44}",
        f"co_{GOOD_LOOKUP}_{'b' * 42}=",
        f"co_{GOOD_LOOKUP}_{'b' * 42}+",
        f" co_{GOOD_LOOKUP}_{GOOD_SECRET}",
        f"co_{GOOD_LOOKUP}_{GOOD_SECRET} ",
        f"Bearer co_{GOOD_LOOKUP}_{GOOD_SECRET}",
        f"key_{GOOD_LOOKUP}",
        "co_../../../etc/passwd_" + GOOD_SECRET,
    ],
    ids=repr,
)
def test_key_id_of_malformed_is_none(plaintext: str) -> None:
    assert key_id_of(plaintext) is None


def test_key_id_of_well_formed_but_unknown_still_parses() -> None:
    assert key_id_of(f"co_{GOOD_LOOKUP}_{GOOD_SECRET}") == f"key_{GOOD_LOOKUP}"


def test_key_id_of_rejects_trailing_newline() -> None:
    assert key_id_of(f"co_{GOOD_LOOKUP}_{GOOD_SECRET}\n") is None


def test_hash_matches() -> None:
    key = generate_api_key()
    assert hash_matches(key.plaintext, key.secret_hash) is True
    assert hash_key(key.plaintext) == key.secret_hash


def test_hash_mismatch() -> None:
    key = generate_api_key()
    other = generate_api_key()
    assert hash_matches(other.plaintext, key.secret_hash) is False
    assert hash_matches(key.plaintext + "x", key.secret_hash) is False
    assert hash_matches(key.plaintext[:-1], key.secret_hash) is False
    assert hash_matches(key.plaintext, key.secret_hash.upper()) is False
    assert hash_matches(key.plaintext, "") is False
    # The hash is of the whole key, so a key with the same lookup but another secret fails.
    lookup_part = key.plaintext.rsplit("_", 1)[0]
    assert hash_matches(f"{lookup_part}_{'x' * 43}", key.secret_hash) is False
