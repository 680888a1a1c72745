"""Fixtures: the built-in TSA and OpenSSL's TSA behind HTTP, one of each per session."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from custody.tsa_builtin import BuiltinTSA
from tests.support.openssl_tsa import OpenSSLTSA


@pytest.fixture(scope="session")
def builtin_tsa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("builtin-tsa") / "tsa"
    BuiltinTSA.create(directory)
    return directory


@pytest.fixture(scope="session")
def builtin_tsa(builtin_tsa_dir: Path) -> BuiltinTSA:
    return BuiltinTSA.load(builtin_tsa_dir)


@pytest.fixture(scope="session")
def openssl_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSSLTSA]:
    with OpenSSLTSA(tmp_path_factory.mktemp("openssl-tsa")) as tsa:
        yield tsa


@pytest.fixture(scope="session")
def openssl_chain_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSSLTSA]:
    """OpenSSL's TSA under an intermediate CA, embedding an unsorted certificate chain."""
    with OpenSSLTSA(tmp_path_factory.mktemp("openssl-chain-tsa"), intermediate=True) as tsa:
        yield tsa


@pytest.fixture
def digest() -> bytes:
    return hashlib.sha256(b"origin\n42\nroot-hash\n").digest()
