"""The contract every server backend fulfils, and what it reports back."""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import httpx

from llama_coder.backends.http import HttpSession
from llama_coder.core.completion import Request
from llama_coder.core.errors import Unsupported

ModelStatus = Literal["present", "missing", "unknown"]


@dataclass(frozen=True)
class Capabilities:
    can_pull: bool = False
    server_fim: bool = False  # the server can build the FIM prompt from the model's tokens
    extra_context: bool = False  # accepts extra context chunks (other files)
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
    keep_alive: str = "30m"
    send_suffix: bool = False
    max_stop: int = 4
    t_max_predict_ms: int = 1000
    ca_bundle: str = ""  # extra CA certificates (PEM) for https endpoints


class Backend(abc.ABC):
    """One kind of server. Implementations live one per file, listed in the registry."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # Advice for users whose model is missing on a server that cannot download it.
    install_hint: ClassVar[str] = ""

    def __init__(
        self,
        settings: BackendSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.http = HttpSession(settings, transport)

    @property
    def model(self) -> str:
        return self.settings.model

    @abc.abstractmethod
    async def probe(self) -> Probe:
        """Is the server there, and how long does it take to answer?"""

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

    def fim_side(self, allow_server_fim: bool) -> str:
        """Who builds the FIM prompt for a request (shown by :LlamaCoderStatus)."""
        return "client"

    async def aclose(self) -> None:
        await self.http.aclose()
