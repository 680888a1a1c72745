from __future__ import annotations

import pytest

from storage.errors import InvalidArgument, InvalidKey
from storage.keys import (
    check_key,
    check_named_write,
    check_prefix,
    check_sha256,
    content_key,
    upload_key,
)

TOKEN = "0123456789abcdef" * 2

SHA = "ab" * 32


@pytest.mark.parametrize(
    "key",
    [
        content_key(SHA),
        upload_key(TOKEN),
        "ledger/seals/000000000000001.json",
        "ledger/timestamps/000000000000005/builtin tsa.tsr",
        "exports/case-1/report.pdf",
    ],
)
def test_valid_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "ledger/../objects/x",
        "ledger//x",
        "ledger/./x",
        "ledger/",
        "ledger\\x",
        "ledger/x\n",
        "staging/abc",
        "meta/objects/x.json",
        "objects/sha256/nothex",
        "objects/other/" + SHA,
        "objects/sha256/" + SHA.upper(),
        "objects/upload/" + TOKEN[:-1],
        "objects/upload/" + TOKEN.upper(),
        "objects/upload/" + SHA,
        "objects/upload/" + TOKEN + "/x",
        "x" * 1025,
    ],
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


@pytest.mark.parametrize("prefix", ["", "ledger/", "ledger/se", "objects/sha256/ab", "l"])
def test_valid_prefixes(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/x", "../", "a//b", "ledger/../"])
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        check_prefix(prefix)


def test_declared_digest_is_normalised() -> None:
    assert check_sha256(SHA.upper()) == SHA
    with pytest.raises(InvalidArgument):
        check_sha256("abc")


def test_named_write_under_objects_must_be_the_content_key() -> None:
    check_named_write(content_key(SHA), SHA)
    check_named_write("ledger/x", SHA)
    with pytest.raises(InvalidKey):
        check_named_write(content_key("cd" * 32), SHA)
    # Upload keys are made by uploads only, never by a named write.
    with pytest.raises(InvalidKey):
        check_named_write(upload_key(TOKEN), SHA)


@pytest.mark.parametrize("token", ["", "xyz", TOKEN.upper(), TOKEN + "0", "../" + TOKEN[3:]])
def test_upload_key_takes_only_a_token(token: str) -> None:
    with pytest.raises(InvalidArgument):
        upload_key(token)
