"""A completer: one server's suggestions without an editor: snapshot -> cache -> backend
stream -> stopper -> post-processing -> suggestion.

The controller keeps one per configured server (routing.py), the command-line entry
point one; it never imports pynvim. (The "engine" is the whole Python process the Lua
shim starts; lua/llama_coder/engine.lua is its Lua side.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from llama_coder.backends.base import Backend, ModelCheck, StreamStats
from llama_coder.backends.registry import create_backend
from llama_coder.core.cache import Source, SuggestionCache
from llama_coder.core.completion import Plan, Request, plan
from llama_coder.core.config import Config
from llama_coder.core.errors import LlamaCoderError
from llama_coder.core.fim import FimTemplate, Resolution, custom_template, resolve_template
from llama_coder.core.lexer import LexerMemo
from llama_coder.core.prompt import Snapshot
from llama_coder.core.stopper import Stopper
from llama_coder.disk_cache import BackgroundDiskCache, default_dir, disk_key
from llama_coder.log import LOGGER

REPO = Path.cwd().name  # the project, as repo-level prompts name it (Neovim's directory)


@dataclass
class Completion:
    text: str | None  # None: nothing worth showing
    from_cache: bool = False
    stats: StreamStats = field(default_factory=StreamStats)
    elapsed_ms: float = 0.0
    first_chunk_ms: float | None = None
    chunks: int = 0  # pieces of text the server streamed
    prompt_key: tuple[Source, str, str] | None = None  # what a cache hit was found under


@dataclass
class _Run:
    """One suggestion's stream so far, over one or two requests."""

    started: float  # perf_counter() when the suggestion was asked for
    first_chunk_at: float = 0.0  # perf_counter() at its first chunk
    first_chunk_ms: float | None = None
    chunks: int = 0
    raw: str = ""  # the model's text as it streamed in
    shown: str = ""  # what on_lines was given last
    failed: bool = False  # the request for the rest of a block failed


async def _set_within(event: asyncio.Event | None, seconds: float) -> bool:
    """Wait up to ``seconds``; True if ``event`` was set by then."""
    if event is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:  # not yet the builtin TimeoutError in 3.10
        return False
    return True


def custom_templates(config: Config) -> dict[str, FimTemplate]:
    return {name: custom_template(name, spec) for name, spec in config.formats.items()}


class Completer:
    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.backend: Backend = create_backend(
            config, os.environ if environ is None else environ, transport
        )
        self.cache = SuggestionCache(config.cache.size)
        self._lexers = LexerMemo()
        self._warn = warn or (lambda message: None)
        self.disk: BackgroundDiskCache | None = None
        if config.cache.disk:
            directory = default_dir(dict(os.environ if environ is None else environ))
            self.disk = BackgroundDiskCache(directory / "suggestions.sqlite3",
                                            config.cache.disk_size, self._warn)
        self._resolution: Resolution | None = None

    @property
    def resolution(self) -> Resolution:
        """The FIM template for the model; resolved from the name until the server said."""
        if self._resolution is None:
            self._resolution = self._resolve(self.backend.model)
        return self._resolution

    def _resolve(self, model: str) -> Resolution:
        return resolve_template(model, self.config.format, custom_templates(self.config))

    async def check_model(self) -> ModelCheck:
        """Ask the server about the model; also settles the FIM template from the name
        the server uses (llama.cpp serves a GGUF path, for example)."""
        check = await self.backend.check_model()
        resolution = self._resolve(check.model or self.backend.model)
        if resolution.warning and (
            self._resolution is None or self._resolution.warning != resolution.warning
        ):
            self._warn(resolution.warning)
        self._resolution = resolution
        return check

    def source(self) -> Source:
        return Source(
            self.config.backend,
            self.config.resolved_endpoint,
            self.backend.model,
            self.resolution.template.name,
        )

    @property
    def allow_server_fim(self) -> bool:
        """May the server build the FIM prompt? For FIM families, and when the format
        was only guessed from an unknown name (the server knows the model's tokens)."""
        return self.resolution.template.server_fim or self.resolution.guessed

    def plan(self, snapshot: Snapshot, extra: Sequence[tuple[str, str]] = (),
             variant: int = 0) -> Plan:
        return plan(snapshot, self.config, self.resolution.template, self.allow_server_fim,
                    self._lexers, extra, REPO, variant)

    def prompt_key(self, snapshot: Snapshot) -> tuple[Source, str, str]:
        """What identifies the prompt for ``snapshot`` (the cache's key)."""
        prompt = self.plan(snapshot).prompt
        return (self.source(), prompt.prefix, prompt.suffix)

    def cached(self, key: tuple[Source, str, str]) -> bool:
        return self.cache.get(*key) is not None

    async def complete(
        self,
        snapshot: Snapshot,
        cancel: asyncio.Event | None = None,
        on_text: Callable[[str], None] | None = None,
        expandtab: bool = True,
        tabstop: int = 8,
        extra: Sequence[tuple[str, str]] = (),
        variant: int = 0,
        on_lines: Callable[[str], None] | None = None,
    ) -> Completion:
        """One suggestion for ``snapshot``: from the cache when it can, else the server.
        ``on_text`` gets the raw text as it streams; ``on_lines`` what may be shown of it
        so far (its checked complete lines, see Plan.early), each time that grows.
        ``extra`` are chunks of other files to send along (see core/context_ring.py).
        ``variant`` > 0 asks for an alternative: another sample, never cached."""
        started = time.perf_counter()
        the_plan = self.plan(snapshot, extra, variant)
        source = self.source()
        prompt = the_plan.prompt
        cached = None if variant else self.cache.get_continuation(
            source, prompt.prefix, prompt.suffix)
        on_disk: bytes | None = None  # the disk cache's key, hashed once for read and write
        if cached is None and self.disk is not None and not variant:
            on_disk = disk_key(source, prompt.prefix, prompt.suffix)
            cached = await self.disk.get(on_disk)
            if cached is not None:
                self.cache.put(source, prompt.prefix, prompt.suffix, cached)
        if cached is not None:
            return Completion(cached, from_cache=True,
                              elapsed_ms=(time.perf_counter() - started) * 1000,
                              prompt_key=(source, prompt.prefix, prompt.suffix))
        stopper = the_plan.stopper()
        run = _Run(started)
        request = the_plan.request
        staged = self._staged(the_plan, on_lines, variant)
        stats = StreamStats()
        cut = await self._stream(request, the_plan, stopper, run, stats, cancel, on_text,
                                 on_lines, expandtab, tabstop, cut_after_first_line=staged)
        if cut:
            # The first line is on screen; the rest only for a user still there.
            rest = await self._rest(request, the_plan, stopper, run, stats, cancel, on_text,
                                    on_lines, expandtab, tabstop)
            if rest is None:
                return Completion(None, stats=stats)
            stats = rest
        first_chunk_ms, count = run.first_chunk_ms, run.chunks
        if cancel is not None and cancel.is_set():
            LOGGER.debug("cancelled after %d chunks", run.chunks)
            return Completion(None, stats=stats)
        if run.failed:  # the rest of a block failed: its lines on screen are the suggestion
            return Completion(run.shown or None, stats=stats, first_chunk_ms=first_chunk_ms,
                              elapsed_ms=(time.perf_counter() - started) * 1000, chunks=count)
        raw = stopper.finish()
        LOGGER.debug("stopped: %s", stopper.reason or "the stream ended")
        text = the_plan.finish(raw, expandtab, tabstop)
        if text is not None and not variant:
            self.cache.put(source, prompt.prefix, prompt.suffix, text)
            if on_disk is not None and self.disk is not None:
                self.disk.put(on_disk, text)
        return Completion(text, stats=stats, first_chunk_ms=first_chunk_ms,
                          elapsed_ms=(time.perf_counter() - started) * 1000, chunks=count)

    def _staged(self, the_plan: Plan, on_lines: Callable[[str], None] | None,
                variant: int) -> bool:
        """Ask for a block in two requests (its first line, then the rest after
        ui.rest_after ms)? Only where lines are shown as they come, the place calls for
        a block, and the server's prompt cache makes the second request cost only its
        new tokens."""
        return (on_lines is not None and not variant and not the_plan.one_line
                and self.config.ui.rest_after > 0
                and self.backend.can_continue(the_plan.request))

    async def _rest(self, request: Request, the_plan: Plan, stopper: Stopper, run: _Run,
                    stats: StreamStats, cancel: asyncio.Event | None,
                    on_text: Callable[[str], None] | None,
                    on_lines: Callable[[str], None] | None, expandtab: bool, tabstop: int
                    ) -> StreamStats | None:
        """After a block's first line was shown and its request cut: wait ui.rest_after
        ms, then ask for the rest, going on from the model's text so far. The stats of
        both requests; None when typing went on during the wait."""
        if stats.predicted_ms is None:  # the server reports it only at a stream's end
            stats.predicted_ms = (time.perf_counter() - run.first_chunk_at) * 1000
        if await _set_within(cancel, self.config.ui.rest_after / 1000):
            LOGGER.debug("first line only (%d chunks): typing went on", run.chunks)
            return None
        before = run.chunks
        if before >= request.max_tokens:
            return stats  # max_tokens reached with the first line
        LOGGER.debug("first line in (%d chunks); asking for the rest", before)
        rest = dataclasses.replace(
            request, continuation=run.raw, max_tokens=request.max_tokens - before,
            generated_ms=(time.perf_counter() - run.first_chunk_at) * 1000)
        rest_stats = StreamStats()
        try:
            await self._stream(rest, the_plan, stopper, run, rest_stats, cancel, on_text,
                               on_lines, expandtab, tabstop)
        except LlamaCoderError as exc:
            if cancel is not None and cancel.is_set():
                raise
            # The lines on screen stay the suggestion; the next request meets the
            # server's trouble and reports it.
            LOGGER.info("the rest of a block failed (%s); keeping its first lines", exc)
            run.failed = True
            return stats
        if rest_stats.predicted_tokens is None:
            rest_stats.predicted_tokens = run.chunks - before
        return stats.then(rest_stats, before)

    async def _stream(self, request: Request, the_plan: Plan, stopper: Stopper, run: _Run,
                      stats: StreamStats, cancel: asyncio.Event | None,
                      on_text: Callable[[str], None] | None,
                      on_lines: Callable[[str], None] | None, expandtab: bool, tabstop: int,
                      cut_after_first_line: bool = False) -> bool:
        """Feed one request's stream to ``stopper``; True when it was cut (its connection
        closed, so the server stops) once the first line with text was shown."""
        async with aclosing(self.backend.stream(request, cancel, stats)) as chunks:
            async for chunk in chunks:
                run.chunks += 1
                run.raw += chunk
                if run.first_chunk_ms is None:
                    run.first_chunk_at = time.perf_counter()
                    run.first_chunk_ms = (run.first_chunk_at - run.started) * 1000
                done = stopper.feed(chunk)
                if on_text is not None:
                    on_text(stopper.text)
                if on_lines is not None and not done and "\n" in chunk:
                    early = the_plan.early(stopper.settled, expandtab, tabstop)
                    if early and len(early) > len(run.shown) and early.startswith(run.shown):
                        run.shown = early
                        on_lines(early)
                        if cut_after_first_line:
                            return True
                if done:
                    break
        return False

    async def warm(self, snapshot: Snapshot, cancel: asyncio.Event | None = None,
                   extra: Sequence[tuple[str, str]] = ()) -> None:
        """Have the server evaluate the prompt for ``snapshot`` and generate (next to)
        nothing: its KV cache then holds the prompt's start, so the first real request
        there costs only what changed. Nothing is cached or shown."""
        the_plan = self.plan(snapshot, extra)
        if self.cache.get(self.source(), the_plan.prompt.prefix, the_plan.prompt.suffix):
            return  # the answer is known: the next request needs no server
        request = dataclasses.replace(the_plan.request, max_tokens=self.backend.warm_tokens)
        async with aclosing(self.backend.stream(request, cancel, StreamStats())) as chunks:
            async for _ in chunks:
                pass

    async def aclose(self) -> None:
        await self.backend.aclose()
        disk, self.disk = self.disk, None
        if disk is not None:
            await disk.aclose()
