"""C2SP tlog-checkpoint bodies: canonical round trip and strict parsing."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.checkpoint import Checkpoint, parse_checkpoint_body
from verify.errors import CheckpointFormatError
from verify.merkle import EMPTY_ROOT

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()

# The example from the C2SP tlog-checkpoint specification.
SPEC_BODY = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


def test_spec_example_round_trips() -> None:
    cp = parse_checkpoint_body(SPEC_BODY)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SPEC_BODY


def test_body_layout() -> None:
    cp = Checkpoint("locard.example/vault", 0, EMPTY_ROOT)
    assert cp.body() == b"locard.example/vault\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    with_ext = Checkpoint("o", 5, ROOT, ("ext one", "two"))
    assert with_ext.body() == f"o\n5\n{ROOT_B64}\next one\ntwo\n".encode()
    assert parse_checkpoint_body(with_ext.body()) == with_ext


@given(
    origin=st.text(
        st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=40
    ),
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=3,
    ),
)
def test_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert parse_checkpoint_body(cp.body()) == cp


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\n1\n" + ROOT_B64.encode() + b"\n", "UTF-8"),
        (f"o\n1\n{ROOT_B64}".encode(), "newline"),
        (b"o\n1\n", "line"),
        (b"", "newline"),
        (f"\n1\n{ROOT_B64}\n".encode(), "origin is empty"),
        (f"o\n\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n007\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n+7\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n-7\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n 7\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n7 \n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n1_000\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n\u0663\n{ROOT_B64}\n".encode(), "canonical decimal"),  # Arabic-Indic three
        (f"o\n0x10\n{ROOT_B64}\n".encode(), "canonical decimal"),
        (f"o\n{2**64}\n{ROOT_B64}\n".encode(), "64 bits"),
        (b"o\n1\nnot base64!\n", "not valid base64"),
        (f"o\n1\n{ROOT_B64.rstrip('=')}\n".encode(), "base64"),
        (f"o\n1\n{ROOT_B64[:-2]}F=\n".encode(), "not canonical base64"),  # padding bits set
        (f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n".encode(), "31 bytes"),
        (f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n".encode(), "33 bytes"),
        (f"o\n1\n{ROOT_B64}\n\n".encode(), "extension line is empty"),
        (f"o\n1\n{ROOT_B64}\n\next\n".encode(), "extension line is empty"),
        (f"o\tx\n1\n{ROOT_B64}\n".encode(), "control character"),
        (f"o\r\n1\n{ROOT_B64}\n".encode(), "control character"),
    ],
)
def test_malformed_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(CheckpointFormatError, match=reason) as info:
        parse_checkpoint_body(body)
    assert info.value.check == "checkpoint-format"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": "", "size": 1, "root": ROOT},
        {"origin": "a\nb", "size": 1, "root": ROOT},
        {"origin": "o", "size": -1, "root": ROOT},
        {"origin": "o", "size": 2**64, "root": ROOT},
        {"origin": "o", "size": 1, "root": ROOT[:5]},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("",)},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("a\nb",)},
    ],
)
def test_constructor_refuses_what_cannot_be_encoded(kwargs: dict[str, object]) -> None:
    with pytest.raises(CheckpointFormatError):
        Checkpoint(**kwargs)  # type: ignore[arg-type]
