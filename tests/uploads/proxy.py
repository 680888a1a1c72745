"""A TCP proxy between a client and the live vault that can throttle or cut the link:
the flaky network a collector's upload has to survive, on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class FlakyProxy:
    """Forwards 127.0.0.1:<port> to the target.

    `rate`: client→server bytes per second (None: as fast as possible).
    `cut_after`: close the first connection that has carried this many client→server
    bytes (both directions, abruptly), once; later connections are left alone.
    """

    def __init__(
        self, target_port: int, *, rate: float | None = None, cut_after: int | None = None
    ) -> None:
        self.target_port = target_port
        self.rate = rate
        self.cut_after = cut_after
        self.cut_done = False
        self.up_bytes = 0
        self.active = 0
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop = True
        self._server.close()

    def sever(self) -> None:
        """Drop every open connection now, bytes buffered in the proxy included: the
        link dies, not just the process at one end of it."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close()

    def idle(self) -> bool:
        with self._lock:
            return self.active == 0

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            conn = _Conn(self, client, upstream)
            with self._lock:
                self.active += 1
                self._conns.add(conn)
            threading.Thread(target=conn.up, daemon=True).start()
            threading.Thread(target=conn.down, daemon=True).start()


class _Conn:
    def __init__(self, proxy: FlakyProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.carried = 0
        self._closed = False
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for s in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        with self.proxy._lock:
            self.proxy.active -= 1
            self.proxy._conns.discard(self)

    def up(self) -> None:
        p = self.proxy
        try:
            while True:
                data = self.client.recv(64 << 10)
                if not data:
                    break
                with p._lock:
                    limit = None if p.cut_done else p.cut_after
                    if limit is not None and self.carried + len(data) >= limit:
                        p.cut_done = True
                        data = data[: limit - self.carried]
                        self.upstream.sendall(data)
                        p.up_bytes += len(data)
                        break
                if p.rate:
                    time.sleep(len(data) / p.rate)
                self.upstream.sendall(data)
                self.carried += len(data)
                with p._lock:
                    p.up_bytes += len(data)
        except OSError:
            pass
        self.close()

    def down(self) -> None:
        try:
            while True:
                data = self.upstream.recv(64 << 10)
                if not data:
                    break
                self.client.sendall(data)
        except OSError:
            pass
        self.close()
