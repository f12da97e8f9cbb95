"""HTTP for all backends: one long-lived client, typed errors, cancellable streams.

A stream is read chunk by chunk, each read raced against the cancel event and the
deadlines (first chunk, total), so a cancel or a timeout closes the connection at
once, whatever the server is doing. The connect timeout is httpx's own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from llama_coder.core.errors import (
    AuthFailed,
    BadRequest,
    ConnectTimeout,
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


class Cancelled(Exception):
    """The caller's cancel event was set."""


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
        return ConnectTimeout(f"no connection to {endpoint} within {connect_timeout:g} s")
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


class HttpSession:
    """The one ``httpx.AsyncClient`` of a backend (a keep-alive pool), and its helpers."""

    def __init__(
        self, settings: BackendSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.endpoint = settings.endpoint
        headers = {"User-Agent": "llama-coder.nvim"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self.client = httpx.AsyncClient(
            base_url=settings.endpoint,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.total_timeout,
                write=settings.connect_timeout,
                pool=settings.connect_timeout,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _scrub(self, error: LlamaCoderError) -> LlamaCoderError:
        """Never let the key reach a message, even if a server echoes it."""
        key = self.settings.api_key
        if key and key in str(error):
            error.args = (str(error).replace(key, "***"),)
        return error

    async def get_status(self, path: str) -> tuple[int, str]:
        """Status and body of a GET, for health checks; failures as typed errors."""
        try:
            response = await self.client.get(path)
        except Exception as exc:  # mapped to a typed error below
            raise self._scrub(
                error_for_exception(exc, self.endpoint, self.settings.connect_timeout)
            ) from None
        return response.status_code, response.text

    async def request_json(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> Any:
        """A JSON request answered with JSON; every failure as a typed error."""
        try:
            response = await self.client.request(method, path, json=body)
        except Exception as exc:  # mapped to a typed error below
            raise self._scrub(
                error_for_exception(exc, self.endpoint, self.settings.connect_timeout)
            ) from None
        if response.status_code >= 300:
            raise self._scrub(error_for_status(response.status_code, response.text, self.endpoint))
        try:
            return response.json()
        except ValueError:
            raise MalformedStream(
                f"{self.endpoint}{path} did not answer with JSON: {error_message(response.text)}"
            ) from None

    async def stream(
        self,
        path: str,
        body: Mapping[str, Any],
        cancel: asyncio.Event | None = None,
        state: StreamState | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """POST ``body`` and yield the answer's bytes as they arrive.

        Ends quietly when ``cancel`` is set; raises a typed error on failure.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = start + self.settings.first_chunk_timeout
        total_deadline = start + self.settings.total_timeout
        waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        response: httpx.Response | None = None
        chunks: AsyncIterator[bytes] | None = None
        try:
            response = await self._race(
                self._send(path, body), waiter, min(first_deadline, total_deadline), first=True,
            )
            if response.status_code >= 300:
                text = await self._race(response.aread(), waiter, total_deadline, first=False)
                raise error_for_status(
                    response.status_code, text.decode("utf-8", "replace"), self.endpoint
                )
            chunks = response.aiter_bytes().__aiter__()
            got_first = False
            while True:
                deadline = total_deadline if got_first else min(first_deadline, total_deadline)
                try:
                    chunk = await self._race(
                        chunks.__anext__(), waiter, deadline, first=not got_first
                    )
                except StopAsyncIteration:
                    return
                got_first = got_first or bool(chunk)
                yield chunk
        except Cancelled:
            return
        except LlamaCoderError as exc:
            raise self._scrub(exc) from None
        except Exception as exc:  # mapped to a typed error below
            raise self._scrub(
                error_for_exception(exc, self.endpoint, self.settings.connect_timeout)
            ) from None
        finally:
            if waiter is not None:
                waiter.cancel()
            if response is not None:
                if state is not None and state.complete and chunks is not None:
                    await self._drain(chunks)
                await response.aclose()

    async def _send(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        """Send, retrying once when a reused keep-alive connection turns out to have
        been closed by the server before it answered anything (a stale pool entry)."""
        for attempt in (1, 2):
            request = self.client.build_request("POST", path, json=body)
            try:
                return await self.client.send(request, stream=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _drain(self, chunks: AsyncIterator[bytes]) -> None:
        deadline = asyncio.get_running_loop().time() + DRAIN_SECONDS
        try:
            while True:
                await self._race(chunks.__anext__(), None, deadline, first=False)
        except (StopAsyncIteration, LlamaCoderError, httpx.HTTPError):
            return

    async def _race(
        self,
        awaitable: Awaitable[T],
        waiter: asyncio.Future[Any] | None,
        deadline: float,
        first: bool,
    ) -> T:
        """``awaitable``'s result, unless the cancel event or the deadline comes first."""
        task = asyncio.ensure_future(awaitable)
        pending: set[asyncio.Future[Any]] = {task}
        if waiter is not None:
            pending.add(waiter)
        timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        try:
            done, _ = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.wait({task})  # let it unwind; its outcome is of no interest now
        if not task.cancelled():
            task.exception()
        if waiter is not None and waiter in done:
            raise Cancelled
        if first:
            raise FirstChunkTimeout(
                f"no answer from {self.endpoint} within "
                f"{self.settings.first_chunk_timeout:g} s (timeout.first_chunk)"
            )
        raise TotalTimeout(
            f"the suggestion took longer than {self.settings.total_timeout:g} s (timeout.total)"
        )
