"""The contract every server backend fulfils, what it reports back, and what they share:
one timed probe, one stream loop, the model name the server serves."""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import httpx

from llama_coder.backends.http import HttpSession, StreamState
from llama_coder.backends.streaming import error_text, ndjson_objects, sse_objects
from llama_coder.core.completion import Request
from llama_coder.core.errors import LlamaCoderError, ServerError, Unsupported

ModelStatus = Literal["present", "missing", "unknown"]


@dataclass(frozen=True)
class Capabilities:
    can_pull: bool = False  # the server can download a missing model (pull_model)
    max_stop: int | None = None  # most stop strings the server takes; None: no limit


@dataclass(frozen=True)
class ModelCheck:
    status: ModelStatus
    model: str  # the name that was checked (resolved when the config left it empty)
    available: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class Probe:
    reachable: bool
    latency_ms: float
    detail: str  # "ok", "loading", or what went wrong


@dataclass
class StreamStats:
    """Filled in by a backend as a stream runs, where the server reports it."""

    prompt_tokens: int | None = None  # prompt tokens evaluated for this request
    cached_tokens: int | None = None  # prompt tokens served from the server's KV cache
    predicted_tokens: int | None = None
    prompt_ms: float | None = None
    predicted_ms: float | None = None
    route: str = ""  # which endpoint answered (for example "/infill")
    stop_reason: str = ""

    def then(self, rest: StreamStats, tokens_before: int) -> StreamStats:
        """One suggestion's stats from its two requests: this one, cut short after
        ``tokens_before`` tokens, and ``rest``, which went on from there. Prompt tokens
        evaluated, tokens generated and times are both requests'; the tokens from the
        cache are the first's where the server told them (the second prompt is the
        first's, from the cache, and would count it twice)."""

        def both(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else a + b

        evaluated = both(self.prompt_tokens, rest.prompt_tokens)
        return StreamStats(
            prompt_tokens=None if evaluated is None else int(evaluated),
            cached_tokens=rest.cached_tokens if self.cached_tokens is None
            else self.cached_tokens,
            predicted_tokens=tokens_before + (rest.predicted_tokens or 0),
            prompt_ms=both(self.prompt_ms, rest.prompt_ms),
            predicted_ms=both(self.predicted_ms, rest.predicted_ms),
            route=rest.route or self.route,
            stop_reason=rest.stop_reason,
        )


@dataclass(frozen=True)
class PullProgress:
    status: str
    completed: int | None = None
    total: int | None = None

    @property
    def percent(self) -> int | None:
        if not self.total or self.completed is None:
            return None
        return min(100, int(self.completed * 100 / self.total))


@dataclass(frozen=True)
class BackendSettings:
    """What a backend needs from the configuration, resolved."""

    endpoint: str
    model: str
    api_key: str = field(default="", repr=False)
    connect_timeout: float = 3.0
    first_chunk_timeout: float = 30.0
    total_timeout: float = 60.0
    pull_idle_timeout: float = 300.0  # a download without progress for this long failed
    keep_alive: str | int | float = "30m"  # a Go duration string, or seconds
    send_suffix: bool = False
    max_stop: int = 4
    t_max_predict_ms: int = 1000
    ca_bundle: str = ""  # extra CA certificates (PEM) for https endpoints


@dataclass(frozen=True)
class Event:
    """What one streamed object says: text to add, and whether it was the last one."""

    text: str = ""
    final: bool = False


class Backend(abc.ABC):
    """One kind of server. Implementations live one per file, listed in the registry.

    Subclasses say how to reach the server (:meth:`health`) and how to read one object
    of its stream (:meth:`read_event`); probing, the stream loop with its end check and
    the served model's name are here, once.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # How messages name the server ("llama-server", "Ollama").
    label: ClassVar[str] = "the server"
    # True: the stream is server-sent events; False: newline-delimited JSON.
    sse: ClassVar[bool] = True
    # The model asked for when the configuration leaves `model` empty and the server
    # does not say which it serves.
    default_model: ClassVar[str] = ""
    # Advice for users whose model is missing on a server that cannot download it.
    install_hint: ClassVar[str] = ""
    # Tokens a warm-up asks for: it only wants the prompt evaluated (and kept in the
    # server's KV cache); 0 where the server takes it to mean "generate nothing".
    warm_tokens: ClassVar[int] = 1

    def __init__(
        self,
        settings: BackendSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.http = HttpSession(settings, transport, self.base_url(settings.endpoint))
        self.served_model = ""  # the model the server said it serves (check_model)

    @classmethod
    def base_url(cls, endpoint: str) -> str:
        """What request paths are appended to."""
        return endpoint

    @property
    def model(self) -> str:
        """The model requests name: the configured one, else the one the server serves."""
        return self.settings.model or self.served_model or self.default_model

    async def probe(self) -> Probe:
        """Is the server there, and how long does it take to answer?"""
        start = time.perf_counter()
        try:
            reachable, detail = await self.health()
        except LlamaCoderError as exc:
            reachable, detail = False, str(exc)
        return Probe(reachable, (time.perf_counter() - start) * 1000, detail)

    @abc.abstractmethod
    async def health(self) -> tuple[bool, str]:
        """One request that tells whether the server answers: (reachable, detail)."""

    @abc.abstractmethod
    async def check_model(self, model: str | None = None) -> ModelCheck:
        """Does the server have ``model`` (default: the configured one)?"""

    async def pull_model(
        self, model: str, on_progress: Callable[[PullProgress], None]
    ) -> None:
        """Download ``model`` onto the server, reporting progress as it streams."""
        raise Unsupported(
            f"the {self.name} server cannot download models; {self.install_hint}".rstrip("; ")
        )

    @abc.abstractmethod
    def stream(
        self,
        request: Request,
        cancel: asyncio.Event | None = None,
        stats: StreamStats | None = None,
    ) -> AsyncGenerator[str, None]:
        """The suggestion's text as it arrives. Setting ``cancel`` (or cancelling the
        task) closes the connection at once."""

    @abc.abstractmethod
    def read_event(self, obj: dict[str, Any], stats: StreamStats) -> Event:
        """One object of the stream: its text, and whether it ends the answer; fills in
        ``stats`` where the server reports them. An ``error`` object is not passed here."""

    def stream_error(self, message: str) -> LlamaCoderError:
        """The error for an ``{"error": ...}`` object inside the stream."""
        return ServerError(f"{self.label} reported an error: {message}")

    async def ready(self) -> None:  # noqa: B027 (a hook: most servers need nothing)
        """Anything to settle before a request's body can be built (default: nothing)."""

    async def stream_texts(
        self,
        path: str,
        body: Callable[[], Mapping[str, Any]],
        cancel: asyncio.Event | None,
        stats: StreamStats | None,
    ) -> AsyncGenerator[str, None]:
        """POST what ``body`` returns (built once :meth:`ready` settled what it needs) to
        ``path`` and yield the text of each event until the last.

        An answer that stops before its end (the final event, or ``[DONE]``) without
        having been cancelled is an error: the server died or a proxy cut it.
        """
        await self.ready()
        state = StreamState()
        stats = StreamStats() if stats is None else stats
        stats.route = path
        async with aclosing(self.http.stream(path, body(), cancel, state)) as chunks:
            objects = sse_objects(chunks, state) if self.sse else ndjson_objects(chunks)
            async with aclosing(objects):
                async for obj in objects:
                    if "error" in obj:
                        raise self.stream_error(error_text(obj["error"]))
                    event = self.read_event(obj, stats)
                    if event.text:
                        yield event.text
                    if event.final:
                        state.complete = True
                        return
        if not (state.complete or stats.stop_reason or (cancel is not None and cancel.is_set())):
            raise ServerError(
                f"{self.label}'s answer ended before its end marker (did the server stop?)")

    def fim_side(self, allow_server_fim: bool) -> str:
        """Who builds the FIM prompt for a request (shown by :LlamaCoderStatus)."""
        return "client"

    def can_continue(self, request: Request) -> bool:
        """May a stream cut short after its first line be taken up by a second request
        (``Request.continuation``) that costs the server only the new tokens? Yes when
        the prompt is built on our side: the text so far goes after it, and the
        server's prompt cache holds all of it. Not when the server builds the FIM
        prompt: the text so far would go into its prefix, before the suffix, which
        the server would then evaluate again."""
        return True

    async def aclose(self) -> None:
        await self.http.aclose()
