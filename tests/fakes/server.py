"""A small real HTTP/1.1 server for protocol fakes.

It runs its own asyncio loop in a thread, listens on 127.0.0.1 at an ephemeral port,
answers each request from a handler that returns a scripted :class:`Reply` (status,
headers, body pieces with delays, or a hang), and records every request: its body,
when it arrived, when the client disconnected, and how many pieces were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Piece:
    """One scripted write: ``data`` after ``delay`` seconds."""

    data: bytes
    delay: float = 0.0


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/json"
    pieces: list[Piece] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # after the pieces, keep the connection open until the client leaves
    die: bool = False  # after the pieces, drop the connection without finishing the body
    chunked: bool = True

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status, "application/json", [Piece(json.dumps(value).encode())],
                   chunked=False)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
        return cls(status, content_type, [Piece(text.encode())], chunked=False)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    received_at: float
    pieces_sent: int = 0
    replying_at: float | None = None  # the status line was sent; the pieces follow
    finished_at: float | None = None  # the whole reply was written
    disconnected_at: float | None = None  # the client closed before the reply was done
    peer: tuple[str, int] | None = None  # the client's address: same port = same connection

    @property
    def body(self) -> Any:
        try:
            return json.loads(self.raw_body or b"null")
        except ValueError:
            return None


Handler = Callable[[Recorded], Reply]

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


class FakeHttpServer:
    """Start with ``with server:`` (or :meth:`start`); ``url`` is its address."""

    def __init__(self, handler: Handler, port: int = 0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.port = port  # 0: an ephemeral port, known once started
        self.tls = tls
        self.requests: list[Recorded] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        # Close, without an answer, the next request that arrives on a reused
        # connection (as a server does with a keep-alive connection it dropped).
        self.drop_reused_once = False

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeHttpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-http", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", self.port, ssl=self.tls)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    # --- recording helpers (called from the test thread) ---------------------------

    def recorded(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.005)
        return predicate()

    # --- the server side --------------------------------------------------------------

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        served = 0
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    return
                request.peer = writer.get_extra_info("peername")
                if served and self.drop_reused_once:
                    self.drop_reused_once = False
                    writer.transport.abort()
                    return
                served += 1
                with self._lock:
                    self.requests.append(request)
                keep = await self._respond(request, reader, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # the server is stopping
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Recorded | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        return Recorded(method, target.split("?", 1)[0], headers, body, time.monotonic())

    async def _respond(
        self, request: Recorded, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        try:
            reply = self.handler(request)
        except Exception as exc:  # a broken handler answers 500, so tests see it
            reply = Reply.text(f"fake handler error: {exc!r}", 500)
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
                f"Content-Type: {reply.content_type}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        streaming = reply.chunked or reply.hang or reply.die
        if streaming:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {sum(len(p.data) for p in reply.pieces)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        request.replying_at = time.monotonic()
        try:
            for piece in reply.pieces:
                if await self._client_left(reader, piece.delay):
                    request.disconnected_at = time.monotonic()
                    return False
                if streaming:
                    if piece.data:
                        writer.write(b"%x\r\n%s\r\n" % (len(piece.data), piece.data))
                else:
                    writer.write(piece.data)
                await writer.drain()
                request.pieces_sent += 1
            if reply.die:
                writer.transport.abort()
                return False
            if reply.hang:
                while not await self._client_left(reader, 3600):
                    pass
                request.disconnected_at = time.monotonic()
                return False
            if streaming:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
            request.finished_at = time.monotonic()
            return True
        except ConnectionError:
            request.disconnected_at = time.monotonic()
            return False

    @staticmethod
    async def _client_left(reader: asyncio.StreamReader, wait: float) -> bool:
        """Wait up to ``wait`` seconds, returning early (True) if the client hangs up.

        The transport keeps reading in the background, so EOF or a reset shows on the
        reader without consuming a byte of a pipelined next request.
        """
        deadline = time.monotonic() + wait
        while True:
            if reader.at_eof() or reader.exception() is not None:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.002, remaining))


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait (without blocking the event loop) until ``predicate`` holds, or time out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.002)
    return predicate()
