"""``backend = 'auto'``: probe the candidate servers, concurrently and briefly.

Every candidate is asked every identifying question (core/detection.py) at once, so
the whole detection takes about as long as its slowest probe: on a machine with
nothing listening every connection is refused at once; an address that drops
packets costs one connect timeout. Each probe is also bounded as a whole (connect
plus read timeout), so a server that accepts and never answers cannot hold it up.
An Ollama is then asked for its models (``/api/tags``), and one server is chosen.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from llama_coder.backends.http import tls_context
from llama_coder.backends.ollama import DEFAULT_MODEL, canonical_name
from llama_coder.completer import custom_templates
from llama_coder.core.config import AUTO, Config, api_key
from llama_coder.core.detection import (
    IDENTIFY_PATHS,
    OLLAMA_MODELS_PATH,
    Answer,
    Candidate,
    Choice,
    Detection,
    Server,
    candidates,
    choose,
    classify,
    ollama_models,
    server_for,
)
from llama_coder.core.errors import ConnectTimeout, LlamaCoderError, Unreachable, clip
from llama_coder.core.fim import FimTemplate

PROBE_READ_SECONDS = 1.0  # a local server answers these in milliseconds
BODY_LIMIT = 1 << 20  # bytes of an answer read at most (a /props carries a chat template)


async def detect(
    candidates: Sequence[Candidate],
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
    *,
    read_timeout_s: float = PROBE_READ_SECONDS,
    api_key: str = "",
    model: str = "",
    format_name: str = "auto",
    custom_formats: Mapping[str, FimTemplate] | None = None,
) -> Detection:
    """Probe ``candidates`` (all at once) and choose one server.

    ``timeout_s`` is the connect timeout of each probe; ``transport`` is closed
    only when made here (pass one with a CA bundle for https endpoints). ``api_key``
    goes as a bearer token to the user's own endpoint when there is one, else to every
    candidate (all on this machine). ``model`` and ``format_name`` are the user's
    ``model`` and ``format`` (empty and "auto": choose).
    """
    prober = _Prober(transport, timeout_s, read_timeout_s, api_key)
    keyed = any(c.explicit for c in candidates)
    try:
        results = await asyncio.gather(*(
            prober.examine(c, model, format_name, custom_formats,
                           with_key=c.explicit or not keyed)
            for c in candidates))
    finally:
        await prober.aclose()
    servers = tuple(server for server, _ in results)
    probes = tuple(answer for _, answers in results for answer in answers)
    chosen, reason = choose(servers)
    return Detection(tuple(candidates), probes, servers, chosen, reason, timeout_s,
                     read_timeout_s)


async def detect_for(config: Config, environ: Mapping[str, str],
                     transport: httpx.AsyncBaseTransport | None = None) -> Detection:
    """:func:`detect` with what the configuration says: its ``endpoint`` first, its
    connect timeout, key, model, format and CA bundle."""
    own = transport is None and bool(config.tls.ca_bundle)
    if own:  # an unreadable bundle raises ConfigError, as it does for the backends
        transport = httpx.AsyncHTTPTransport(verify=tls_context(config.tls.ca_bundle),
                                             trust_env=False)
    try:
        return await detect(
            candidates(config.endpoint), config.timeout.connect / 1000, transport,
            api_key=api_key(config, environ), model=config.model, format_name=config.format,
            custom_formats=custom_templates(config))
    finally:
        if own and transport is not None:
            await transport.aclose()


def configured(config: Config, choice: Choice) -> Config:
    """``config`` (its ``backend`` was 'auto') pointed at the chosen server, and so
    every route and fallback that still says 'auto': the completers are built from this.
    A route keeps a ``model`` of its own; one it inherited becomes the chosen model."""

    def point(server: Config) -> Config:
        model = server.model if server.model != config.model else choice.model
        return dataclasses.replace(server, backend=choice.backend, endpoint=choice.endpoint,
                                   model=model)

    return dataclasses.replace(
        point(config),
        routes={ft: point(r) if r.backend == AUTO else r for ft, r in config.routes.items()},
        fallback=tuple(point(f) if f.backend == AUTO else f for f in config.fallback),
    )


class AutoSetup:
    """``backend = 'auto'`` for the controller: which server, decided lazily and kept.

    :meth:`resolve` detects on its first call (the first request, which runs as a
    task: the typing path never waits on it); requests that come meanwhile wait for
    the same detection. The choice is kept until a request to the chosen server finds
    it gone (:meth:`gone`); when nothing usable was found, the next request tries
    again only after ``fallback_retry`` ms, so a machine with no server pays for
    probes at most that often, never per keystroke. What was chosen, or why nothing
    was, is said once (``say(text, level)``; the notifier adds the plugin's name).
    """

    def __init__(self, config: Config, environ: Mapping[str, str],
                 say: Callable[[str, str], None],
                 transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.environ = environ
        self.say = say
        self.transport = transport
        self.clock = clock
        self.detection: Detection | None = None  # the latest, for :checkhealth
        self.configured: Config | None = None  # the config pointed at the chosen server
        self._task: asyncio.Task[Detection] | None = None
        self._retry_at = 0.0
        self._said = ""

    @property
    def active(self) -> bool:
        return self.config.backend == AUTO

    async def resolve(self) -> Config | None:
        """The configuration to build the completers from, or None while nothing usable
        answers (the reason was said)."""
        if self.configured is not None:
            return self.configured
        if self.detection is not None and self.clock() < self._retry_at:
            return None
        await self.detect()
        return self.configured

    async def detect(self) -> Detection:
        """Detect now (or join the detection under way)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                detect_for(self.config, self.environ, self.transport))
            # settled when done, also when every request that waited was cancelled
            self._task.add_done_callback(self._done)
        task = self._task
        detection = await asyncio.shield(task)  # a cancelled request leaves it running
        self._settle(detection)
        return detection

    def _done(self, task: asyncio.Task[Detection]) -> None:
        if not task.cancelled() and task.exception() is None:
            self._settle(task.result())

    def _settle(self, detection: Detection) -> None:
        if detection is self.detection:
            return  # several requests waited for the same detection
        self.detection = detection
        chosen = detection.chosen
        self.configured = configured(self.config, chosen) if chosen is not None else None
        self._retry_at = self.clock() + self.config.fallback_retry / 1000
        text = detection.summary()
        if text != self._said:
            self._said = text
            self.say(text, "info" if chosen is not None else "warn")

    def gone(self, error: LlamaCoderError) -> bool:
        """A request to the chosen server failed with ``error``: True when the server
        is gone (cannot be reached), and the next request detects again."""
        if self.configured is None or not isinstance(error, (Unreachable, ConnectTimeout)):
            return False
        self.configured = None
        self._retry_at = 0.0
        return True

    def look_again(self) -> None:
        """The user asks (:LlamaCoderStatus, :checkhealth): when nothing usable was
        found, the next request detects at once, not after ``fallback_retry``."""
        if self.configured is None:
            self._retry_at = 0.0

    async def report(self) -> dict[str, Any]:
        """For :checkhealth (which may wait; it is not the typing path): every probe
        and its answer, detecting now if nothing was detected yet."""
        detection = self.detection or await self.detect()
        return detection.report()

    async def aclose(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})


class _Prober:
    def __init__(self, transport: httpx.AsyncBaseTransport | None, connect_s: float,
                 read_s: float, api_key: str) -> None:
        self._own = transport is None
        self.transport = transport or httpx.AsyncHTTPTransport(trust_env=False)
        self.connect_s = connect_s
        self.read_s = read_s
        self.api_key = api_key
        self.headers = {"User-Agent": "llama-coder.nvim", "Accept": "application/json"}
        self.keyed_headers = dict(self.headers)
        if api_key:
            self.keyed_headers["Authorization"] = f"Bearer {api_key}"

    async def aclose(self) -> None:
        if self._own:
            await self.transport.aclose()

    async def examine(
        self, candidate: Candidate, model: str, format_name: str,
        custom: Mapping[str, FimTemplate] | None, with_key: bool,
    ) -> tuple[Server, list[Answer]]:
        root = candidate.root
        answers = list(await asyncio.gather(*(
            self.get(root + p, with_key) for p in IDENTIFY_PATHS)))
        identity = classify(dict(zip(IDENTIFY_PATHS, answers, strict=True)))
        tags: Any = None
        if identity.kind == "ollama" and identity.state == "ready":
            listing = await self.get(root + OLLAMA_MODELS_PATH, with_key)
            answers.append(listing)
            tags = listing.json()
        server = server_for(
            candidate, identity, wanted=model, format_name=format_name, custom=custom,
            ollama=ollama_models(tags), ollama_default=DEFAULT_MODEL, same=canonical_name)
        return server, answers

    async def get(self, url: str, with_key: bool = True) -> Answer:
        """One GET, never raising: the answer, or why there was none."""
        limit = self.connect_s + self.read_s
        started = time.monotonic()

        def failed(why: str) -> Answer:
            return Answer(url, None, failure=why, started=started,
                          elapsed_ms=(time.monotonic() - started) * 1000, limit_s=limit)

        try:
            status, body = await asyncio.wait_for(self._fetch(url, with_key), limit)
        except (asyncio.TimeoutError, httpx.ReadTimeout, httpx.WriteTimeout,
                httpx.PoolTimeout):
            return failed(f"no answer within {self.read_s:g} s")
        except httpx.ConnectTimeout:
            return failed(f"no connection within {self.connect_s:g} s")
        except httpx.ConnectError as exc:
            return failed(_connect_failure(exc))
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            return failed("not an http(s) URL")
        except (httpx.HTTPError, OSError) as exc:
            return failed(self._scrub(clip(str(exc) or type(exc).__name__, 120)))
        return Answer(url, status, self._scrub_body(body), started=started,
                      elapsed_ms=(time.monotonic() - started) * 1000, limit_s=limit)

    async def _fetch(self, url: str, with_key: bool) -> tuple[int, Any]:
        timeouts = {"connect": self.connect_s, "read": self.read_s,
                    "write": self.connect_s, "pool": self.connect_s}
        headers = self.keyed_headers if with_key else self.headers
        request = httpx.Request("GET", url, headers=headers,
                                extensions={"timeout": timeouts})
        response = await self.transport.handle_async_request(request)
        try:
            data = bytearray()
            async for chunk in response.aiter_raw():
                data += chunk
                if len(data) >= BODY_LIMIT:
                    break
        finally:
            await response.aclose()
        return response.status_code, _parse(bytes(data[:BODY_LIMIT]))

    def _scrub(self, text: str) -> str:
        """A server may echo what it was sent: the key never reaches a report."""
        return text.replace(self.api_key, "***") if self.api_key else text

    def _scrub_body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self._scrub(body)
        if self.api_key and self.api_key in json.dumps(body):
            return self._scrub(json.dumps(body))  # the text, then: shown, never parsed
        return body


def _parse(data: bytes) -> Any:
    text = data.decode("utf-8", "replace")
    if text.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return clip(text.strip(), 300)


def _connect_failure(exc: httpx.ConnectError) -> str:
    """"refused" for the common case (nothing listening), else the OS's words."""
    reason = str(exc) or type(exc).__name__
    cause: BaseException | None = exc
    for _ in range(8):  # httpx wraps httpcore, which wraps the OS's error
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) \
                == errno.ECONNREFUSED:
            return "refused"
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in reason or "certificate verify failed" in reason:
        return "TLS certificate not trusted (tls.ca_bundle)"
    return clip(f"cannot connect ({reason})", 120)
