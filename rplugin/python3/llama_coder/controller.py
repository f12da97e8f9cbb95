"""Turns messages from the Lua shim into completions: the request's lifecycle and the
fallback chain.

No pynvim here: the plugin class hands every message, in arrival order, to one
method of this class, and results go back through an :class:`Editor` (notifications
to Lua, never waiting for Neovim). At most one completion runs at a time; a newer one
cancels it. The model's readiness (``readiness.py``), alternatives
(``alternatives.py``), :checkhealth (``health.py``) and the status
(``reporter.py``) live in modules of their own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_coder.alternatives import Alternatives
from llama_coder.completer import Completer, Completion
from llama_coder.core.config import AUTO, Config, TlsConfig, api_key, parse_config
from llama_coder.core.context_ring import ContextRing
from llama_coder.core.errors import ConfigError, LlamaCoderError, clip
from llama_coder.core.prompt import Snapshot
from llama_coder.core.speculation import accepted
from llama_coder.core.timings import Timings
from llama_coder.detect import AutoSetup
from llama_coder.health import health_report
from llama_coder.log import LOGGER, add_secret, set_level
from llama_coder.messages import (
    AlternativesRequest,
    CompletionRequest,
    ContextChunk,
    PullAnswer,
    parsed,
)
from llama_coder.prefetch import Prefetcher
from llama_coder.readiness import Readiness
from llama_coder.reporter import Editor, Reporter
from llama_coder.routing import MAIN, Router, worth_falling_back
from llama_coder.window import extra_context, snapshot_of

STREAM_UPDATE_SECONDS = 0.05  # partial suggestions at most this often

__all__ = ["CompletionRequest", "Controller", "Editor"]


@dataclass(frozen=True)
class Running:
    """The completion in flight: set ``cancel`` to stop it, ``task`` to await it."""

    request: CompletionRequest
    cancel: asyncio.Event
    task: asyncio.Task[None]


class Controller:
    def __init__(self, editor: Editor, environ: Mapping[str, str] | None = None) -> None:
        self.editor = editor
        self.environ = dict(os.environ if environ is None else environ)
        self.config: Config | None = None
        self.router: Router | None = None  # None while backend = 'auto' has found nothing
        self.auto: AutoSetup | None = None  # backend = 'auto': finds the server
        self._interim = False  # the router holds only fallbacks: auto found nothing yet
        self._answered = MAIN  # which completer gave the last suggestion
        self._current: Running | None = None
        self._warming: Running | None = None  # at most one warm-up, cancelled by requests
        self.prefetcher = Prefetcher()
        self.ring = ContextRing(0, 1)  # sized by apply()
        self.report = Reporter(editor, self.info)
        self.models = Readiness(self.report, self._spawn)
        self.alternatives = Alternatives(editor, self.ring, self._payload)
        self.last_latency_ms: float | None = None
        self.problems: list[str] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- configuration ---------------------------------------------------------------

    def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Validate what setup() received (one message naming every problem) and apply it."""
        result = parse_config(raw or {})
        self.problems = result.problems
        if result.problems:
            self.report.notify("\n".join(result.problems), "warn")
        self.apply(result.config)

    def apply(self, config: Config) -> None:
        old, old_auto = self.router, self.auto
        self.cancel(None)
        self.alternatives.forget()
        self.config = config
        set_level(config.log.level)
        add_secret(api_key(config, self.environ))
        self.auto = None
        self.router = None
        self._interim = False
        if config.backend == AUTO:
            # Which server is decided by the first request (off the typing path).
            self.auto = AutoSetup(config, self.environ, self.report.notify)
        else:
            self._build_router(config)
        self.models.clear()
        self.report.last_error = None
        self._answered = MAIN
        self.ring.resize(config.context.extra_chunks, config.context.chunk_lines)
        if old is not None:
            self._close(old)
        if old_auto is not None:
            self._spawn(old_auto.aclose())
        self.report.status("idle")

    def _build_router(self, config: Config) -> Router:
        self.router = Router(config, self._make_completer)
        for _, completer in self.router.completers():
            add_secret(completer.backend.settings.api_key)
        return self.router

    def _close(self, router: Router) -> None:
        for _, completer in router.completers():
            self._spawn(completer.aclose())

    async def _servers(self) -> Router | None:
        """The servers: with backend = 'auto', found by the first request that needs
        them (requests that come meanwhile share that detection) and kept until the
        chosen one is gone. None while nothing usable answers (AutoSetup said why)."""
        router = self._router()
        auto = self.auto
        if auto is None or (router is not None and not self._interim):
            return router
        found = await auto.resolve()
        if auto is not self.auto:
            return None  # set up anew meanwhile
        if found is None:
            interim = fallbacks_only(auto.config)
            if self.router is None and interim is not None:
                self._build_router(interim)  # until a server is found
                self._interim = True
            return self.router
        if self.router is None or self._interim:
            if self.router is not None:
                self._close(self.router)
            self._build_router(found)
            self._interim = False
            self.report.status("idle")  # the status line names the server now
        return self.router

    def _lost(self, completer: Completer, error: LlamaCoderError) -> Router | None:
        """A request to ``completer`` failed: when it was the server backend = 'auto'
        chose and it is gone, the next request detects again. Returns the servers
        let go (closed once the request that still holds them ends)."""
        auto, router = self.auto, self.router
        chosen = auto.configured if auto is not None else None
        if (auto is None or router is None or chosen is None
                or (completer.config.backend, completer.config.endpoint)
                != (chosen.backend, chosen.endpoint) or not auto.gone(error)):
            return None
        LOGGER.info("%s is gone (%s): detecting again on the next request",
                    chosen.endpoint, error)
        self.router = None
        self.prefetcher.cancel()
        self.alternatives.cancel()
        self.models.clear()
        self._answered = MAIN
        return router

    def _make_completer(self, config: Config) -> Completer:
        warn = lambda m: self.report.notify(m, "warn")  # noqa: E731
        try:
            return Completer(config, self.environ, warn=warn)
        except ConfigError as exc:  # an unreadable CA bundle: say so, verify as usual
            self.problems.append(str(exc))
            self.report.notify(str(exc), "error")
            config = dataclasses.replace(config, tls=TlsConfig(ca_bundle=""))
            return Completer(config, self.environ, warn=warn)

    @property
    def completer(self) -> Completer | None:
        """The top-level server's completer, once configured."""
        return self.router.main if self.router is not None else None

    def _router(self) -> Router | None:
        """The servers as they are now (None: backend = 'auto' has not found one yet);
        a message that needs them before setup()'s configuration came (none in
        practice: Lua configures first) gets the defaults."""
        if self.config is None:
            self.configure({})
        return self.router

    # --- completions -----------------------------------------------------------------

    def complete(self, raw: Any) -> None:
        """Start a completion for a request from Lua, cancelling the one in flight."""
        request = parsed(CompletionRequest.from_lua, raw, "request")
        if request is None:
            return
        previous = self._current
        self._stop_warming()
        self.alternatives.cancel()
        self.alternatives.remember(request)
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._run(request, cancel, previous))
        self._current = Running(request, cancel, task)

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel request ``request_id``; None: whatever is in flight, prefetch and
        alternatives too (the suggestion on screen was left)."""
        if request_id is None:
            self.prefetcher.cancel()
            self.alternatives.cancel()
        current = self._current
        if current is not None and (request_id is None or current.request.id == request_id):
            current.cancel.set()

    async def _run(self, request: CompletionRequest, cancel: asyncio.Event,
                   previous: Running | None) -> None:
        if previous is not None:
            # At most one request in flight: stop the previous one wherever it is (a
            # model check on a slow network, too) and let it unwind first.
            previous.cancel.set()
            if not previous.task.done():
                previous.task.cancel()
                await asyncio.wait({previous.task})
        delivered = False
        dropped: Router | None = None  # servers backend = 'auto' let go of meanwhile
        try:
            router = await self._servers()
            if router is None:
                self._nothing_found(cancel)
                return
            chain = router.chain(request.filetype)
            for position, (name, completer) in enumerate(chain):
                last = position == len(chain) - 1
                try:
                    delivered = await self._complete_with(router, completer, name, request,
                                                          cancel)
                    if delivered or cancel.is_set():
                        return
                except LlamaCoderError as exc:
                    if cancel.is_set():
                        return
                    dropped = dropped or self._lost(completer, exc)
                    if last or not worth_falling_back(exc):
                        raise
                    router.failed(name)
                    LOGGER.info("%s failed (%s); trying %s", name, exc, chain[position + 1][0])
        except LlamaCoderError as exc:
            if not cancel.is_set():
                self.report.fail(exc)
        except Exception:
            LOGGER.exception("internal error while completing")
            self.report.fail(LlamaCoderError("internal error (details in the log file)"))
        finally:
            if self._current is not None and self._current.request.id == request.id:
                self._current = None
            if self._current is None:
                self.report.settle()  # no "thinking" left behind by a cancelled request
            if dropped is not None:
                self._close(dropped)
            if not delivered and not cancel.is_set():
                self.editor.send("result", self._payload(request, None))  # nothing to show

    def _nothing_found(self, cancel: asyncio.Event) -> None:
        """backend = 'auto' found no server to use: the status says why (AutoSetup
        notified it once)."""
        auto = self.auto
        if cancel.is_set() or auto is None or auto.detection is None:
            return
        reason = auto.detection.reason
        self.report.last_error = (reason, time.monotonic())
        self.report.status("error", detail="no server", message=clip(reason, 300))

    async def _complete_with(self, router: Router, completer: Completer, name: str,
                             request: CompletionRequest, cancel: asyncio.Event) -> bool:
        """One try on one server; True when a result went to the editor. False also
        when its model is not ready (being asked about, downloaded, or missing): the
        next server in the chain is tried."""
        if cancel.is_set() or not await self.models.ready(completer):
            return False
        snapshot = await snapshot_of(request, completer.config)
        await self.prefetcher.settle(completer, snapshot)
        if cancel.is_set():
            return False
        self.report.thinking_soon()
        extra = extra_context(self.ring, completer.config, request.path)
        on_text, on_lines = self._streaming(request, cancel)
        completion = await completer.complete(
            snapshot, cancel, on_text, expandtab=request.expandtab, tabstop=request.tabstop,
            extra=extra, on_lines=on_lines,
        )
        if cancel.is_set():
            self.report.status("idle")
            return False
        router.answered(name)
        self._answered = name
        prefetched = (completion.prompt_key is not None
                      and self.prefetcher.fetched(completion.prompt_key))
        self._deliver(request, completion, completer, prefetched)
        self._prefetch(completer, snapshot, request, completion.text, extra)
        return True

    def _streaming(self, request: CompletionRequest, cancel: asyncio.Event
                   ) -> tuple[Callable[[str], None] | None, Callable[[str], None] | None]:
        """What goes to the editor while a suggestion streams in: every piece
        (ui.show_while_streaming, at most every STREAM_UPDATE_SECONDS), each checked line
        as it completes (ui.line_by_line), or nothing until the end."""
        if self.config is None:
            return None, None
        ui = self.config.ui

        def send(text: str) -> None:
            if text and not cancel.is_set():
                self.editor.send("result", self._payload(request, text, partial=True))

        if ui.show_while_streaming:
            last = 0.0

            def piece(text: str) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= STREAM_UPDATE_SECONDS:
                    last = now
                    send(text)

            return piece, None
        return None, (send if ui.line_by_line else None)

    @staticmethod
    def _payload(request: CompletionRequest, text: str | None, partial: bool = False
                 ) -> dict[str, Any]:
        return {"id": request.id, "buf": request.buf, "tick": request.tick,
                "row": request.row, "col": request.col, "text": text, "partial": partial}

    def _deliver(self, request: CompletionRequest, completion: Completion,
                 completer: Completer, prefetched: bool = False) -> None:
        self.last_latency_ms = completion.elapsed_ms
        self.report.last_error = None
        payload = self._payload(request, completion.text)
        s = completion.stats
        timings = self._timings(completion, completer)
        payload["stats"] = {
            "info": timings.long(), "info_short": timings.short(),
            "cached": completion.from_cache, "elapsed_ms": round(completion.elapsed_ms, 2),
            "first_chunk_ms": completion.first_chunk_ms, "route": s.route,
            "prompt_tokens": s.prompt_tokens, "cached_tokens": s.cached_tokens,
            "predicted_tokens": s.predicted_tokens, "prompt_ms": s.prompt_ms,
            "predicted_ms": s.predicted_ms,
            "server": _server_label(completer), "prefetched": prefetched,
        }
        self.editor.send("result", payload)
        LOGGER.debug("completion %d: %.0f ms (first chunk %s ms), route %s, prompt %s, "
                     "cached %s, predicted %s, cache hit %s", request.id, completion.elapsed_ms,
                     completion.first_chunk_ms, s.route, s.prompt_tokens, s.cached_tokens,
                     s.predicted_tokens, completion.from_cache)
        self.report.status("idle")

    def _prefetch(self, completer: Completer, snapshot: Snapshot, request: CompletionRequest,
                  shown: str | None, extra: Sequence[tuple[str, str]] = ()) -> None:
        """Ask, in the background, for what follows ``shown`` once accepted."""
        if completer.config.prefetch and shown:
            self.prefetcher.start(completer, accepted(snapshot, shown), request.expandtab,
                                  request.tabstop, extra)

    def _timings(self, completion: Completion, completer: Completer) -> Timings:
        s = completion.stats
        return Timings(
            answered_by=_server_label(completer),
            total_ms=completion.elapsed_ms, first_chunk_ms=completion.first_chunk_ms,
            prompt_tokens=s.prompt_tokens, cached_tokens=s.cached_tokens,
            prompt_ms=s.prompt_ms,
            predicted_tokens=s.predicted_tokens if s.predicted_tokens is not None
            else (completion.chunks or None),
            predicted_ms=s.predicted_ms, from_cache=completion.from_cache)

    # --- warm-up ------------------------------------------------------------------------

    def warm(self, raw: Any) -> None:
        """The user entered a buffer (or came back after a long idle): have its server
        evaluate the prompt there before the first suggestion is asked for. Never while
        a request runs, never two at once; any request cancels it."""
        request = parsed(CompletionRequest.from_lua, raw, "warm-up")
        if request is None:
            return
        if self._current is not None or (
                self._warming is not None and not self._warming.task.done()):
            return
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._warm(request, cancel))
        self._warming = Running(request, cancel, task)

    def _stop_warming(self) -> None:
        warming, self._warming = self._warming, None
        if warming is not None and not warming.task.done():
            warming.cancel.set()

    async def _warm(self, request: CompletionRequest, cancel: asyncio.Event) -> None:
        try:
            router = await self._servers()  # with backend = 'auto': finds the server now
            if router is None or cancel.is_set():
                return
            name, completer = router.chain(request.filetype)[0]
            if not await self.models.ready(completer):
                return
            snapshot = await snapshot_of(request, completer.config)
            extra = extra_context(self.ring, completer.config, request.path)
            if not cancel.is_set():
                await completer.warm(snapshot, cancel, extra)
                LOGGER.debug("warmed %s for %s", name, request.path)
        except LlamaCoderError as exc:
            LOGGER.debug("warm-up failed: %s", exc)  # the next real request reports it
        except Exception:
            LOGGER.exception("internal error in a warm-up")

    # --- alternatives, context, the model ---------------------------------------------

    def ask_alternatives(self, raw: Any) -> None:
        """More suggestions for the place of a recent request (Lua cycles through them)."""
        ask = parsed(AlternativesRequest.from_lua, raw, "alternatives request")
        if ask is None:
            return
        router = self._router()
        if router is None:  # backend = 'auto' has no server yet: nothing to offer
            self.editor.send("alternatives_done", {"id": ask.id})
            return
        self.alternatives.start(ask, router)

    def add_context(self, raw: Any) -> None:
        """A chunk of another buffer from Lua: ``path`` and ``lines``."""
        chunk = parsed(ContextChunk.from_lua, raw, "context chunk")
        if chunk is None:
            return
        if self.ring.add(chunk.path, chunk.lines):
            LOGGER.debug("context: %d chunks, newest from %s", len(self.ring), chunk.path)

    def pull_answer(self, args: list[Any]) -> None:
        answer = parsed(PullAnswer.from_lua, args, "answer")
        if answer is None:
            return
        self.models.answer(answer.model, answer.answer)

    def recheck(self, reason: str) -> None:
        """The user is back (``return``) or looks at the state (``status``, ``health``):
        models that are missing, declined or failed to download are checked again.
        Only :LlamaCoderStatus asks again about a model the user declined."""
        self._router()
        if self.auto is not None and reason in ("status", "health"):
            self.auto.look_again()  # a server started meanwhile is found at once
        self.models.recheck(user_asked=reason == "status")

    # --- :checkhealth and :LlamaCoderStatus -------------------------------------------

    def health(self, token: int) -> None:
        self._spawn(self._health(token))

    async def _health(self, token: int) -> None:
        auto, error = self.auto, ""
        try:
            router = await self._servers()  # detects, when backend = 'auto' has not yet
            detection = await auto.report() if auto is not None else None
        except LlamaCoderError as exc:  # detection could not start (tls.ca_bundle)
            router, detection, error = None, None, str(exc)
        report = await health_report(router.main if router is not None else None,
                                     self.info, self.problems)
        if detection is not None:
            report["detection"] = detection
        if error:
            report["error"] = error
        self.editor.send("health", {"token": token, **report})

    def info(self) -> dict[str, Any]:
        config = self.config
        if config is None:
            return {}
        last_error = self.report.last_error
        if self.router is None:  # backend = 'auto', no server found (yet)
            return {
                "backend": AUTO, "endpoint": config.endpoint, "model": config.model,
                "format": config.format, "fim_side": "", "latency_ms": None,
                "last_error": last_error[0] if last_error else "",
                "api_key_env": config.api_key_env, "answered_by": "", "server": AUTO,
            }
        completer = self.router.main
        cfg = completer.config
        return {
            "backend": f"{AUTO}: {cfg.backend}" if self.auto is not None else cfg.backend,
            "endpoint": cfg.resolved_endpoint,
            "model": completer.backend.model or "(the server's)",
            "format": completer.resolution.template.name,
            "fim_side": completer.backend.fim_side(completer.allow_server_fim),
            "latency_ms": None if self.last_latency_ms is None else round(self.last_latency_ms),
            "last_error": last_error[0] if last_error else "",
            "api_key_env": cfg.api_key_env,
            "answered_by": self._answered_label(),
            "server": _server_label(completer),  # as results' stats name it (:LlamaCoderStats)
        }

    def _answered_label(self) -> str:
        """Which server gave the last suggestion, when it was not the top-level one."""
        if self.router is None or self._answered == MAIN:
            return ""
        completer = dict(self.router.completers()).get(self._answered)
        if completer is None:
            return ""
        return f"{self._answered} ({_server_label(completer)})"

    # --- tasks --------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        self.cancel(None)
        self._stop_warming()
        if self.auto is not None:
            await self.auto.aclose()
        if self.router is not None:
            for _, completer in self.router.completers():
                await completer.aclose()


def fallbacks_only(config: Config) -> Config | None:
    """backend = 'auto' found no server: the fallbacks (and routes) that name their
    own server answer meanwhile, the first fallback in the main one's place."""
    named = [server for server in config.fallback if server.backend != AUTO]
    if not named:
        return None
    routes = {ft: route for ft, route in config.routes.items() if route.backend != AUTO}
    return dataclasses.replace(named[0], routes=routes, fallback=tuple(named[1:]))


def _server_label(completer: Completer) -> str:
    """The backend and model, as status lines name a server."""
    return f"{completer.config.backend} {completer.backend.model}".strip()
