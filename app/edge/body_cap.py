"""Cap a request body that will be parsed whole, before any of it is parsed.

A declared Content-Length over the cap is refused unread; a chunked body is read up to
the cap and refused when it passes it. What was read is replayed unchanged to the view,
so memory per request stays at the cap.
"""

from __future__ import annotations

from collections import deque

from starlette.requests import Request
from starlette.types import Message

from app.edge.body import chunked, declared_length
from app.errors import PayloadTooLarge


async def read_capped(request: Request, limit: int) -> Request:
    declared = declared_length(request.scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"a body of {declared} bytes exceeds the {limit}-byte limit")
    if declared is not None and not chunked(request.scope):
        # HTTP framing delivers exactly the declared bytes, so the cap holds unread; reading
        # and replaying every small JSON body cost an annotation a few per cent of its CPU
        return request
    read: deque[Message] = deque()
    size = 0
    while True:
        message = await request.receive()
        read.append(message)
        if message["type"] != "http.request":
            break  # a disconnect: the view sees it as it would have
        size += len(message.get("body", b""))
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds the {limit}-byte limit")
        if not message.get("more_body", False):
            break
    receive = request.receive

    async def replay() -> Message:
        return read.popleft() if read else await receive()

    return Request(request.scope, replay)
