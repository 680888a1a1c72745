"""The fast canonical encoder must produce exactly the RFC 8785 reference bytes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import CanonicalEncodingError
from verify.events import canonicalize

keys = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8
) | st.sampled_from(["a", "A", "é", "\ue000", "\U0001f600", "\x00", "\u2028", "z" * 3])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
    | st.sampled_from(['\b\f\n\r\t"\\', "\x7f\x1f", "\u2028\u2029", "\U0010ffff"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(json_values)
def test_fast_path_equals_reference(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


def test_keys_outside_the_bmp_sort_by_utf16() -> None:
    doc = {"\U0001f600": 1, "\ufb01": 2}  # code-point and UTF-16 order disagree here
    assert canonicalize(doc) == rfc8785.dumps(doc)
    assert canonicalize(doc).index("\ufb01".encode()) > canonicalize(doc).index("😀".encode())


@pytest.mark.parametrize("bad", [2**53, float("nan"), "\ud800", {"k": float("inf")}])
def test_unrepresentable_values_are_refused(bad: Any) -> None:
    with pytest.raises(CanonicalEncodingError):
        canonicalize(bad)


def test_floats_use_the_reference_number_format() -> None:
    assert canonicalize({"x": 1e21, "y": 0.1}) == rfc8785.dumps({"x": 1e21, "y": 0.1})
