"""Does a request announce a body? (Content-Length above zero, or any Transfer-Encoding.)"""

from __future__ import annotations

from starlette.types import Scope


def announces_body(scope: Scope) -> bool:
    if chunked(scope):
        return True
    return any(
        name == b"content-length" and value.strip() not in (b"0", b"")
        for name, value in scope["headers"]
    )


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


def chunked(scope: Scope) -> bool:
    """Does the request name a Transfer-Encoding (whose framing, not Content-Length, ends
    its body)?"""
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])
