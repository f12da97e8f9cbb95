"""HTTP for all backends: one long-lived client, typed errors, cancellable streams.

A stream is read chunk by chunk in the consumer's task, watched by a watchdog
that interrupts the read in progress when the cancel event is set or a deadline
(first chunk, total; or, for a download, a time without anything new) passes, so the
connection closes at once, whatever the server is doing. The connect timeout is
httpx's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from llama_coder.core.errors import (
    AuthFailed,
    BadRequest,
    ConfigError,
    ConnectTimeout,
    DownloadStalled,
    FirstChunkTimeout,
    LlamaCoderError,
    MalformedStream,
    ModelMissing,
    ServerBusy,
    ServerError,
    Timeout,
    TotalTimeout,
    Unreachable,
    Unsupported,
    clip,
)

if TYPE_CHECKING:
    from llama_coder.backends.base import BackendSettings

T = TypeVar("T")


class _Fired(Exception):
    """The watchdog ended a read: ``kind`` is "cancel", "first", "total" or "idle"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Watchdog:
    """Interrupts a stream's reads when the cancel event is set or a deadline passes.

    The asyncio.timeout pattern: reads run in the consumer's own task (no task per
    read), and the watchdog cancels that task, but only while it is inside one of
    our reads; otherwise the event waits until the next read, so the consumer's
    own code is never interrupted. Its own cancellations come out as :class:`_Fired`.
    """

    def __init__(self, cancel: asyncio.Event | None) -> None:
        self.task = asyncio.current_task()
        self.loop = asyncio.get_running_loop()
        self.reading = False
        self.fired = ""  # the kind that cancelled the task inside a read
        self.pending = ""  # a kind that came while the task was elsewhere
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Task[Any] | None = None
        if cancel is not None:
            self._waiter = self.loop.create_task(cancel.wait())
            self._waiter.add_done_callback(self._on_cancel_event)

    def _on_cancel_event(self, waiter: asyncio.Task[Any]) -> None:
        if not waiter.cancelled():
            self._fire("cancel")

    def arm(self, deadline: float, kind: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(deadline, self._fire, kind)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._waiter is not None:
            self._waiter.cancel()
        self.task = None

    def _fire(self, kind: str) -> None:
        if self.task is None or self.fired or self.pending:
            return
        if self.reading:
            self.fired = kind
            self.task.cancel()
        else:
            self.pending = kind

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` in this task, interruptible by the watchdog."""
        if self.pending:
            _close(awaitable)
            raise _Fired(self.pending)
        self.reading = True
        try:
            return await awaitable
        except asyncio.CancelledError:
            if not self.fired:
                raise  # someone else cancelled the task
            uncancel = getattr(self.task, "uncancel", None)
            if uncancel is not None:
                uncancel()
            raise _Fired(self.fired) from None
        finally:
            self.reading = False


def _close(awaitable: Awaitable[Any]) -> None:
    """A coroutine that will never be awaited: close it (no "never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def error_message(body: str) -> str:
    """The server's own words from an error body, in any of the usual shapes."""
    text = body.strip()
    if not text:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        if text.lstrip().lower().startswith(("<!doctype", "<html")):
            return "an HTML page (is a proxy or another web server at this address?)"
        return clip(text)
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or err.get("error")
            if msg:
                return clip(str(msg))
        elif isinstance(err, str) and err:
            return clip(err)
        if isinstance(data.get("message"), str):
            return clip(data["message"])  # vLLM before 0.10.1: {"object": "error", ...}
        if isinstance(data.get("detail"), str):
            return clip(data["detail"])
    return clip(text)


def error_for_status(status: int, body: str, endpoint: str) -> LlamaCoderError:
    """A typed, human error for an HTTP error answer."""
    said = error_message(body)
    tail = f": {said}" if said else ""
    if status in (401, 403):
        return AuthFailed(
            f"authentication failed ({status}) at {endpoint}; check api_key_env or "
            "bearer_token"
        )
    if status == 404:
        lowered = said.lower()
        if "model" in lowered and ("not found" in lowered or "does not exist" in lowered):
            return ModelMissing(f"model not found on the server{tail}")
        return ServerError(f"{endpoint} answered 404 Not Found{tail}; is the backend right?")
    if status == 429:
        return ServerBusy(f"the server is rate limiting requests (429){tail}")
    if status == 503:
        return ServerBusy(f"the server is busy or still loading the model (503){tail}")
    if status == 501:
        return Unsupported(f"the server does not support this ({status}){tail}")
    if 300 <= status < 400:
        return ServerError(f"{endpoint} redirected ({status}); set endpoint to the final URL")
    if 400 <= status < 500:
        return BadRequest(f"the server rejected the request ({status}){tail}")
    return ServerError(f"server error ({status}){tail}")


def error_for_exception(exc: Exception, endpoint: str, connect_timeout: float) -> LlamaCoderError:
    if isinstance(exc, LlamaCoderError):
        return exc
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectTimeout(
            f"no connection to {endpoint} within {connect_timeout:g} s (timeout.connect)")
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or type(exc).__name__
        if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
            return Unreachable(
                f"TLS certificate of {endpoint} could not be verified; give your CA "
                "bundle in tls.ca_bundle"
            )
        return Unreachable(f"cannot reach {endpoint} ({clip(reason, 120)}); is the server running?")
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"{endpoint} timed out")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return ServerError(f"{endpoint} closed the connection before the answer was complete")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return Unreachable(f"endpoint {endpoint} is not a usable http(s) URL")
    if isinstance(exc, httpx.HTTPError):
        return ServerError(f"HTTP error talking to {endpoint}: {clip(str(exc), 120)}")
    return ServerError(f"unexpected error talking to {endpoint}: {type(exc).__name__}")


@dataclass
class StreamState:
    """Set ``complete`` when the protocol's final marker arrived: the rest of the body
    is then read so the connection goes back to the pool; otherwise closing the
    stream closes the connection, which tells the server to stop generating."""

    complete: bool = False


DRAIN_SECONDS = 0.5  # how long a complete stream may take to deliver its last bytes
REUSE_WAIT_SECONDS = 0.05  # how long a request waits for a draining connection


def tls_context(ca_bundle: str) -> ssl.SSLContext | bool:
    """Verification is always on; ``ca_bundle`` adds CA certificates to trust."""
    if not ca_bundle:
        return True
    path = os.path.expanduser(ca_bundle)
    try:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls.ca_bundle: cannot use {path}: {exc}") from None
    return context


class HttpSession:
    """The one httpx transport of a backend (a keep-alive pool), and its helpers.

    Requests go straight to the transport: the client layer (cookies, auth flows,
    redirect handling, URL merging) does nothing this plugin needs and costs a
    measurable part of a millisecond per completion (see bench/).
    """

    def __init__(
        self,
        settings: BackendSettings,
        transport: httpx.AsyncBaseTransport | None = None,
        base: str | None = None,
    ) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint  # as the user wrote it, for messages
        self._base = (settings.endpoint if base is None else base).rstrip("/")
        self._headers = {"User-Agent": "llama-coder.nvim", "Accept": "*/*"}
        if settings.api_key:
            self._headers["Authorization"] = f"Bearer {settings.api_key}"
        self._timeouts = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.total_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        ).as_dict()
        # A download has no total deadline and its reads wait as long as the watchdog lets
        # them.
        self._no_read_timeout = {**self._timeouts, "read": None}
        self._tasks: set[asyncio.Task[None]] = set()  # streams finishing in the background
        self._open_responses = 0  # streamed responses not yet closed (each holds a connection)
        self.transport = transport or httpx.AsyncHTTPTransport(
            verify=tls_context(settings.ca_bundle), trust_env=False
        )

    async def aclose(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()  # no more requests: nothing to keep the connection for
        if tasks:
            await asyncio.wait(tasks)
        await self.transport.aclose()

    def open_connections(self) -> int:
        """Connections held by a streamed answer not yet closed (in flight, or finishing
        in the background): what a leak would make grow. Idle keep-alive connections
        waiting in the pool are not counted."""
        return self._open_responses

    def _scrub(self, error: LlamaCoderError) -> LlamaCoderError:
        """Never let the key reach a message, even if a server echoes it."""
        key = self.settings.api_key
        if key and key in str(error):
            error.args = (str(error).replace(key, "***"),)
        return error

    def _typed(self, exc: Exception) -> LlamaCoderError:
        """Any failure of a request as a typed, key-free error."""
        return self._scrub(error_for_exception(exc, self.endpoint, self.settings.connect_timeout))

    async def get_status(self, path: str) -> tuple[int, str]:
        """Status and body of a GET, for health checks; failures as typed errors."""
        try:
            response = await self._send("GET", path)
        except Exception as exc:  # mapped to a typed error
            raise self._typed(exc) from None
        return response.status_code, response.text

    async def request_json(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> Any:
        """A JSON request answered with JSON; every failure as a typed error."""
        try:
            response = await self._send(method, path, body)
        except Exception as exc:  # mapped to a typed error
            raise self._typed(exc) from None
        if response.status_code >= 300:
            raise self._scrub(error_for_status(response.status_code, response.text, self.endpoint))
        try:
            return response.json()
        except ValueError:
            raise MalformedStream(
                f"{self._base}{path} did not answer with JSON: {error_message(response.text)}"
            ) from None

    async def stream(
        self,
        path: str,
        body: Mapping[str, Any],
        cancel: asyncio.Event | None = None,
        state: StreamState | None = None,
        idle: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """POST ``body`` and yield the answer's bytes as they arrive.

        Ends quietly when ``cancel`` is set; raises a typed error on failure. Reads
        happen in the consumer's task, which must not await anything else while it
        iterates (a cancel or deadline interrupts the read in progress).

        With ``idle`` (seconds; for downloads) there is no first-chunk or total
        deadline: the stream fails with :class:`DownloadStalled` once nothing has
        arrived for that long.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = min(start + self.settings.first_chunk_timeout,
                             start + self.settings.total_timeout)
        total_deadline = start + self.settings.total_timeout
        dog = _Watchdog(cancel)
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        try:
            if idle is None:
                dog.arm(first_deadline, "first")
            else:
                dog.arm(start + idle, "idle")
            response = await dog.guard(self._send(
                "POST", path, body, stream=True,
                timeouts=None if idle is None else self._no_read_timeout))
            self._open_responses += 1
            if response.status_code >= 300:
                if idle is None:
                    dog.arm(total_deadline, "total")
                text = await dog.guard(response.aread())
                raise error_for_status(
                    response.status_code, text.decode("utf-8", "replace"), self.endpoint
                )
            if response.headers.get("content-type", "").startswith("text/html"):
                raise MalformedStream(
                    f"{self.endpoint} answered with an HTML page, not a completion stream "
                    "(is a proxy or a login page in the way?)"
                )
            chunks = response.aiter_bytes().__aiter__()
            got_first = False
            while True:
                try:
                    chunk = await dog.guard(chunks.__anext__())
                except StopAsyncIteration:
                    return
                if idle is not None:
                    dog.arm(loop.time() + idle, "idle")
                elif chunk and not got_first:
                    got_first = True
                    dog.arm(total_deadline, "total")
                yield chunk
        except _Fired as fired:
            if fired.kind == "cancel":
                return
            raise self._timeout(fired.kind, idle) from None
        except LlamaCoderError as exc:
            raise self._scrub(exc) from None
        except Exception as exc:  # mapped to a typed error
            raise self._typed(exc) from None
        finally:
            dog.disarm()
            if response is not None:
                if state is not None and state.complete and chunks is not None:
                    # The answer is whole: its last bytes (a chunked body's terminator,
                    # often a packet of its own) are read in the background, so the
                    # suggestion does not wait for them.
                    self._background(self._drain_and_close(response, chunks))
                else:
                    await self._close(response)

    async def _close(self, response: httpx.Response) -> None:
        try:
            await response.aclose()
        finally:
            self._open_responses -= 1

    def _timeout(self, kind: str, idle: float | None) -> LlamaCoderError:
        if kind == "idle":
            return DownloadStalled(f"{self.endpoint} sent nothing for {idle:g} s")
        if kind == "first":
            return FirstChunkTimeout(
                f"no answer from {self.endpoint} within "
                f"{self.settings.first_chunk_timeout:g} s (timeout.first_chunk)"
            )
        return TotalTimeout(
            f"the suggestion took longer than {self.settings.total_timeout:g} s (timeout.total)"
        )

    async def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        stream: bool = False,
        timeouts: Mapping[str, float | None] | None = None,
    ) -> httpx.Response:
        """Every request goes out here: retried once when a reused keep-alive
        connection turns out to have been closed by the server before it answered
        anything (a stale pool entry)."""
        if self._tasks:
            # A stream still finishing in the background gives its connection back
            # in a moment: wait that moment rather than open a second connection.
            await asyncio.wait(set(self._tasks), timeout=REUSE_WAIT_SECONDS)
        for attempt in (1, 2):
            url = path if "://" in path else self._base + path  # a path, or a whole URL
            request = httpx.Request(method, url, headers=self._headers,
                                    json=body,
                                    extensions={"timeout": timeouts or self._timeouts})
            try:
                response = await self.transport.handle_async_request(request)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                if attempt == 2:
                    raise
                continue
            response.request = request
            if not stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            return response
        raise AssertionError("unreachable")

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain_and_close(self, response: httpx.Response,
                               chunks: AsyncIterator[bytes]) -> None:
        try:
            await self._drain(chunks)
        finally:
            with contextlib.suppress(Exception):
                await self._close(response)

    async def _drain(self, chunks: AsyncIterator[bytes]) -> None:
        dog = _Watchdog(None)
        dog.arm(asyncio.get_running_loop().time() + DRAIN_SECONDS, "total")
        try:
            while True:
                await dog.guard(chunks.__anext__())
        except (StopAsyncIteration, _Fired, LlamaCoderError, httpx.HTTPError):
            return
        finally:
            dog.disarm()
