"""Turns messages from the Lua shim into completions, and reports back through an Editor.

No pynvim here: the plugin class hands every message to one method of this class,
and results go back through :class:`Editor` (notifications to Lua, never waiting
for Neovim). At most one completion runs at a time; a newer one cancels it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from llama_coder.backends.base import PullProgress
from llama_coder.core.config import Config, TlsConfig, parse_config
from llama_coder.core.context_ring import ContextRing
from llama_coder.core.errors import ConfigError, LlamaCoderError, clip
from llama_coder.core.notebook import parse_ipynb_outputs
from llama_coder.core.prompt import Snapshot, byte_col_to_char
from llama_coder.core.speculation import accepted
from llama_coder.core.timings import Timings
from llama_coder.engine import Completion, Engine
from llama_coder.log import LOGGER, add_secret, set_level
from llama_coder.prefetch import Prefetcher
from llama_coder.routing import MAIN, Router, worth_falling_back

ERROR_REPEAT_SECONDS = 60.0  # the same error is notified again at most this often
# "thinking" shows only for requests still running after this long: a fast answer
# makes no statusline flicker and costs no messages.
THINKING_AFTER_SECONDS = 0.06
STREAM_UPDATE_SECONDS = 0.05  # partial suggestions at most this often


class Editor(Protocol):
    """The way back to Neovim: fire-and-forget messages to the Lua shim."""

    def send(self, kind: str, payload: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class CompletionRequest:
    id: int
    buf: int
    tick: int
    row: int  # 0-based
    col: int  # byte column
    first_line: int
    lines: list[str]
    path: str = ""
    abspath: str = ""
    filetype: str = ""
    expandtab: bool = True
    tabstop: int = 8
    received_ns: int = 0  # monotonic clock, when the engine got it (for benchmarks)

    @classmethod
    def from_lua(cls, raw: Mapping[str, Any]) -> CompletionRequest:
        return cls(
            id=int(raw["id"]), buf=int(raw["buf"]), tick=int(raw["tick"]),
            row=int(raw["row"]), col=int(raw["col"]), first_line=int(raw["first_line"]),
            lines=[str(line) for line in raw["lines"]], path=str(raw.get("path", "")),
            abspath=str(raw.get("abspath", "")), filetype=str(raw.get("filetype", "")),
            expandtab=bool(raw.get("expandtab", True)), tabstop=int(raw.get("tabstop", 8)),
            received_ns=time.monotonic_ns(),
        )


class Controller:
    def __init__(self, editor: Editor, environ: Mapping[str, str] | None = None) -> None:
        self.editor = editor
        self.environ = dict(os.environ if environ is None else environ)
        self.engine: Engine | None = None  # the top-level server's (router.main)
        self.router: Router | None = None
        self._answered = MAIN  # which engine gave the last suggestion
        self._asking: dict[str, Engine] = {}  # model -> the engine whose pull is offered
        self._shown_answered = MAIN
        self._alternatives: tuple[asyncio.Event, asyncio.Task[None]] | None = None
        self._current: tuple[int, asyncio.Event, asyncio.Task[None]] | None = None
        self._models: dict[str, str] = {}  # source key -> ready | asking | missing | ...
        self.prefetcher = Prefetcher()
        self.ring = ContextRing(0, 1)  # sized by apply()
        self._last_error: tuple[str, float] | None = None
        self.last_latency_ms: float | None = None
        self.problems: list[str] = []
        self._shown_state = ""  # the state Lua shows now
        self._thinking: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- configuration ---------------------------------------------------------------

    def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Validate what setup() received (one message naming every problem) and apply it."""
        result = parse_config(raw or {})
        self.problems = result.problems
        if result.problems:
            self._notify("\n".join(result.problems), "warn")
        self.apply(result.config)

    def apply(self, config: Config) -> None:
        old = self.router
        self.cancel_current()
        self.prefetcher.cancel()
        self.router = Router(config, self._make_engine)
        self.engine = self.router.main
        set_level(config.log.level)
        for _, engine in self.router.engines():
            add_secret(engine.backend.settings.api_key)
        self._models.clear()
        self._last_error = None
        self._answered = MAIN
        self.ring.resize(config.context.extra_chunks, config.context.chunk_lines)
        if old is not None:
            for _, engine in old.engines():
                self._spawn(engine.aclose())
        self._status("idle")

    def _make_engine(self, config: Config) -> Engine:
        warn = lambda m: self._notify(m, "warn")  # noqa: E731
        try:
            return Engine(config, self.environ, warn=warn)
        except ConfigError as exc:  # an unreadable CA bundle: say so, verify as usual
            self.problems.append(str(exc))
            self._notify(str(exc), "error")
            config = dataclasses.replace(config, tls=TlsConfig(ca_bundle=""))
            return Engine(config, self.environ, warn=warn)

    @property
    def config(self) -> Config:
        return self._engine().config

    def _engine(self) -> Engine:
        if self.engine is None:
            self.configure({})
        assert self.engine is not None
        return self.engine

    # --- completions -----------------------------------------------------------------

    def complete(self, raw: Mapping[str, Any]) -> None:
        """Start a completion for a request from Lua, cancelling the one in flight."""
        try:
            request = CompletionRequest.from_lua(raw)
        except (KeyError, TypeError, ValueError) as exc:
            LOGGER.warning("ignoring a malformed request: %s", exc)
            return
        previous = self._current
        self.cancel_alternatives()
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._run(request, cancel, previous))
        self._current = (request.id, cancel, task)

    def cancel(self, request_id: int | None = None) -> None:
        """Cancel request ``request_id``; None: whatever is in flight, prefetch and
        alternatives too (the suggestion on screen was left)."""
        if request_id is None:
            self.prefetcher.cancel()
            self.cancel_alternatives()
        current = self._current
        if current is not None and (request_id is None or current[0] == request_id):
            current[1].set()

    def cancel_current(self) -> None:
        self.cancel(None)

    async def _run(
        self,
        request: CompletionRequest,
        cancel: asyncio.Event,
        previous: tuple[int, asyncio.Event, asyncio.Task[None]] | None,
    ) -> None:
        if previous is not None:
            # At most one request in flight: stop the previous one wherever it is (a
            # model check on a slow network, too) and let it unwind first.
            previous[1].set()
            if not previous[2].done():
                previous[2].cancel()
                await asyncio.wait({previous[2]})
        self._engine()
        assert self.router is not None
        chain = self.router.chain(request.filetype)
        delivered = False
        try:
            for position, (name, engine) in enumerate(chain):
                last = position == len(chain) - 1
                try:
                    delivered = await self._complete_with(engine, name, request, cancel)
                    if delivered or cancel.is_set():
                        return
                except LlamaCoderError as exc:
                    if cancel.is_set():
                        return
                    if last or not worth_falling_back(exc):
                        raise
                    self.router.failed(name)
                    LOGGER.info("%s failed (%s); trying %s", name, exc, chain[position + 1][0])
        except LlamaCoderError as exc:
            if not cancel.is_set():
                self._fail(exc)
        except Exception:
            LOGGER.exception("internal error while completing")
            self._fail(LlamaCoderError("internal error (details in the log file)"))
        finally:
            if self._thinking is not None:
                self._thinking.cancel()
                self._thinking = None
            if self._current is not None and self._current[0] == request.id:
                self._current = None
            if not delivered and not cancel.is_set():
                self.editor.send("result", self._payload(request, None))  # nothing to show

    async def _complete_with(self, engine: Engine, name: str, request: CompletionRequest,
                             cancel: asyncio.Event) -> bool:
        """One try on one server; True when a result went to the editor. False also
        when its model is not ready (being asked about, downloaded, or missing): the
        next server in the chain is tried."""
        if cancel.is_set() or not await self._model_ready(engine):
            return False
        snapshot = await self._snapshot(request, engine.config)
        await self.prefetcher.settle(engine, snapshot)
        if cancel.is_set():
            return False
        self._announce_thinking()
        extra = self._extra(engine.config, request.path)
        completion = await engine.complete(
            snapshot, cancel, self._partial_sender(request, cancel),
            expandtab=request.expandtab, tabstop=request.tabstop, extra=extra,
        )
        if cancel.is_set():
            self._status("idle")
            return False
        assert self.router is not None
        self.router.answered(name)
        self._answered = name
        self._deliver(request, completion, engine)
        self._prefetch(engine, snapshot, request, completion.text, extra)
        return True

    def _partial_sender(self, request: CompletionRequest, cancel: asyncio.Event) -> Any:
        if not self._engine().config.ui.show_while_streaming:
            return None
        last = [0.0]

        def send(text: str) -> None:
            now = time.monotonic()
            if text and not cancel.is_set() and now - last[0] >= STREAM_UPDATE_SECONDS:
                last[0] = now
                self.editor.send("result", self._payload(request, text, partial=True))

        return send

    @staticmethod
    def _payload(request: CompletionRequest, text: str | None, partial: bool = False
                 ) -> dict[str, Any]:
        return {"id": request.id, "buf": request.buf, "tick": request.tick,
                "row": request.row, "col": request.col, "text": text, "partial": partial}

    def _deliver(self, request: CompletionRequest, completion: Completion,
                 engine: Engine) -> None:
        self.last_latency_ms = completion.elapsed_ms
        self._last_error = None
        payload = self._payload(request, completion.text)
        s = completion.stats
        timings = self._timings(completion, engine)
        payload["stats"] = {
            "info": timings.long(), "info_short": timings.short(),
            "cached": completion.from_cache, "elapsed_ms": round(completion.elapsed_ms, 2),
            "first_chunk_ms": completion.first_chunk_ms, "route": s.route,
            "prompt_tokens": s.prompt_tokens, "cached_tokens": s.cached_tokens,
            "predicted_tokens": s.predicted_tokens, "prompt_ms": s.prompt_ms,
            "predicted_ms": s.predicted_ms,
            "received_ns": request.received_ns, "sent_ns": time.monotonic_ns(),
        }
        self.editor.send("result", payload)
        LOGGER.debug("completion %d: %.0f ms (first chunk %s ms), route %s, prompt %s, "
                     "cached %s, predicted %s, cache hit %s", request.id, completion.elapsed_ms,
                     completion.first_chunk_ms, s.route, s.prompt_tokens, s.cached_tokens,
                     s.predicted_tokens, completion.from_cache)
        self._status("idle")

    def _prefetch(self, engine: Engine, snapshot: Snapshot, request: CompletionRequest,
                  shown: str | None, extra: Sequence[tuple[str, str]] = ()) -> None:
        """Ask, in the background, for what follows ``shown`` once accepted."""
        if engine.config.prefetch and shown:
            self.prefetcher.start(engine, accepted(snapshot, shown), request.expandtab,
                                  request.tabstop, extra)

    # --- alternatives ---------------------------------------------------------------------

    def alternatives(self, raw: Mapping[str, Any]) -> None:
        """More suggestions for the place of request ``raw`` (Lua cycles through them)."""
        try:
            request = CompletionRequest.from_lua(raw)
            count = max(1, min(int(raw.get("count", 3)), 8))
            known = {str(text) for text in raw.get("known") or []}
        except (KeyError, TypeError, ValueError) as exc:
            LOGGER.warning("ignoring a malformed alternatives request: %s", exc)
            return
        self.cancel_alternatives()
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._run_alternatives(request, cancel, count, known))
        self._alternatives = (cancel, task)

    def cancel_alternatives(self) -> None:
        if self._alternatives is not None:
            self._alternatives[0].set()
            self._alternatives = None

    async def _run_alternatives(self, request: CompletionRequest, cancel: asyncio.Event,
                                count: int, known: set[str]) -> None:
        """Other samples from the filetype's server; with fallbacks, their answers first
        (the same place seen by two servers). Each new one goes to Lua as it comes."""
        assert self.router is not None
        chain = [item for item in self.router.chain(request.filetype)
                 if not self.router.is_down(item[0])]
        tries = [(name, engine, 0) for name, engine in chain[1:]]
        if chain:
            tries += [(chain[0][0], chain[0][1], n) for n in range(1, 2 * count)]
        found = set(known)
        try:
            # The prompt's window and extra context are the same on every server (only
            # server keys differ between routes), so they are read once.
            snapshot = await self._snapshot(request, self.router.config)
            extra = self._extra(self.router.config, request.path)
            for name, engine, variant in tries:
                if len(found) >= count or cancel.is_set():
                    break
                try:
                    completion = await engine.complete(
                        snapshot, cancel, expandtab=request.expandtab, tabstop=request.tabstop,
                        extra=extra, variant=variant)
                except LlamaCoderError as exc:
                    LOGGER.info("alternative from %s failed: %s", name, exc)
                    continue
                text = completion.text
                if text and text not in found and not cancel.is_set():
                    found.add(text)
                    self.editor.send("alternative", {**self._payload(request, text), "by": name})
        except Exception:
            LOGGER.exception("internal error while asking for alternatives")
        finally:
            if not cancel.is_set():
                self.editor.send("alternatives_done", {"id": request.id})

    # --- context from other buffers -------------------------------------------------------

    def add_context(self, raw: Mapping[str, Any]) -> None:
        """A chunk of another buffer from Lua: ``path`` and ``lines``."""
        try:
            path, lines = str(raw["path"]), [str(line) for line in raw["lines"]]
        except (KeyError, TypeError, ValueError) as exc:
            LOGGER.warning("ignoring a malformed context chunk: %s", exc)
            return
        if self.ring.add(path, lines):
            LOGGER.debug("context: %d chunks, newest from %s", len(self.ring), path)

    def _extra(self, config: Config, path: str) -> list[tuple[str, str]]:
        if config.context.extra_chars <= 0:
            return []
        return [(c.path, c.text) for c in self.ring.select(config.context.extra_chars, path)]

    def _timings(self, completion: Completion, engine: Engine) -> Timings:
        s = completion.stats
        return Timings(
            answered_by=_server_label(engine),
            total_ms=completion.elapsed_ms, first_chunk_ms=completion.first_chunk_ms,
            prompt_tokens=s.prompt_tokens, cached_tokens=s.cached_tokens,
            prompt_ms=s.prompt_ms,
            predicted_tokens=s.predicted_tokens if s.predicted_tokens is not None
            else (completion.chunks or None),
            predicted_ms=s.predicted_ms, from_cache=completion.from_cache)

    async def _snapshot(self, request: CompletionRequest, config: Config) -> Snapshot:
        local = request.row - request.first_line
        line = request.lines[local] if 0 <= local < len(request.lines) else ""
        outputs = None
        if config.notebook.include_cell_outputs and request.abspath:
            outputs = await asyncio.to_thread(_read_outputs, request.abspath)
        return Snapshot(request.lines, request.first_line, request.row,
                        byte_col_to_char(line, request.col), request.path, request.filetype,
                        outputs)

    # --- the model: check once, offer to pull -----------------------------------------

    def _model_key(self, engine: Engine) -> str:
        cfg = engine.config
        return f"{cfg.backend}|{cfg.resolved_endpoint}|{cfg.model}"

    async def _model_ready(self, engine: Engine) -> bool:
        key = self._model_key(engine)
        state = self._models.get(key)
        if state == "ready":
            return True
        if state is not None:
            return False  # asking, pulling, declined or missing: no requests meanwhile
        check = await engine.check_model()  # an unreachable server raises: checked again later
        if check.status in ("present", "unknown"):
            self._models[key] = "ready"
            self._status("idle")
            return True
        if engine.backend.capabilities.can_pull:
            self._models[key] = "asking"
            self._asking[check.model] = engine
            self.editor.send("ask_pull", {"model": check.model, "message": check.message})
        else:
            self._models[key] = "missing"
            self._fail(LlamaCoderError(check.message), kind="model missing")
        return False

    def pull_answer(self, model: str, answer: str) -> None:
        engine = self._asking.pop(model, None) or self._engine()
        key = self._model_key(engine)
        if answer != "download":
            self._models[key] = "declined"
            self._status("idle")
            return
        self._models[key] = "pulling"
        self._spawn(self._pull(engine, key, model))

    async def _pull(self, engine: Engine, key: str, model: str) -> None:
        last_percent = [-1]

        def progress(p: PullProgress) -> None:
            percent = p.percent
            if percent is not None and percent != last_percent[0]:
                last_percent[0] = percent
                self._status("downloading", percent=percent)

        self._status("downloading", percent=0)
        try:
            await engine.backend.pull_model(model, progress)
        except LlamaCoderError as exc:
            self._models[key] = "missing"
            self._fail(exc)
            return
        except Exception:
            LOGGER.exception("internal error while pulling %s", model)
            self._models[key] = "missing"
            self._fail(LlamaCoderError("internal error while downloading (see the log file)"))
            return
        self._models.pop(key, None)  # checked again on the next completion
        self._notify(f"model {model} downloaded", "info")
        self._status("idle")

    # --- :checkhealth and :LlamaCoderStatus -------------------------------------------

    def health(self, token: int) -> None:
        self._spawn(self._health(token))

    async def _health(self, token: int) -> None:
        engine = self._engine()
        report: dict[str, Any] = {"token": token, "info": self.info(), "problems": self.problems}
        try:
            probe = await engine.backend.probe()
            report["reachable"] = probe.reachable
            report["latency_ms"] = round(probe.latency_ms, 1)
            report["probe"] = probe.detail
            if probe.reachable:
                check = await engine.check_model()
                report["model_status"] = check.status
                report["model_message"] = check.message
                report["info"] = self.info()
        except LlamaCoderError as exc:
            report["error"] = str(exc)
        except Exception:
            LOGGER.exception("internal error in the health check")
            report["error"] = "internal error (see the log file)"
        report["warning"] = engine.resolution.warning or ""
        report["tasks"] = len(asyncio.all_tasks()) - 1  # this one aside
        report["connections"] = engine.backend.http.open_connections()
        report["rss_mb"] = _rss_mb()
        self.editor.send("health", report)

    def info(self) -> dict[str, Any]:
        engine = self._engine()
        cfg = engine.config
        template = engine.resolution.template
        return {
            "backend": cfg.backend,
            "endpoint": cfg.resolved_endpoint,
            "model": engine.backend.model or "(the server's)",
            "format": template.name,
            "fim_side": engine.backend.fim_side(engine.allow_server_fim),
            "latency_ms": None if self.last_latency_ms is None else round(self.last_latency_ms),
            "last_error": self._last_error[0] if self._last_error else "",
            "api_key_env": cfg.api_key_env,
            "api_key_set": bool(engine.backend.settings.api_key),
            "answered_by": self._answered_label(),
        }

    def _answered_label(self) -> str:
        """Which server gave the last suggestion, when it was not the top-level one."""
        if self.router is None or self._answered == MAIN:
            return ""
        engine = dict(self.router.engines()).get(self._answered)
        if engine is None:
            return ""
        return f"{self._answered} ({_server_label(engine)})"

    # --- reporting ----------------------------------------------------------------------

    def _announce_thinking(self) -> None:
        if self._thinking is not None:
            self._thinking.cancel()
        loop = asyncio.get_running_loop()
        self._thinking = loop.call_later(THINKING_AFTER_SECONDS, self._status, "thinking")

    def _status(self, state: str, **extra: Any) -> None:
        if (state == "idle" and self._shown_state == "idle" and not extra
                and self._answered == self._shown_answered):
            return  # nothing changed for Lua
        self._shown_state = state
        self._shown_answered = self._answered
        self.editor.send("status", {"state": state, "info": self.info(), **extra})

    def _notify(self, message: str, level: str) -> None:
        self.editor.send("notify", {"message": message, "level": level})

    def _fail(self, error: LlamaCoderError, kind: str | None = None) -> None:
        message = str(error)
        now = time.monotonic()
        last = self._last_error
        if last is None or last[0] != message or now - last[1] > ERROR_REPEAT_SECONDS:
            self._notify(message, "error")
            self._last_error = (message, now)
        LOGGER.warning("%s", message)
        self._status("error", detail=kind or error.short, message=clip(message, 300))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        self.cancel_current()
        self.prefetcher.cancel()
        if self.router is not None:
            for _, engine in self.router.engines():
                await engine.aclose()


def _server_label(engine: Engine) -> str:
    """The backend and model, as status lines name a server."""
    return f"{engine.config.backend} {engine.backend.model}".strip()


def _read_outputs(abspath: str) -> list[list[str]] | None:
    ipynb = Path(abspath).with_suffix(".ipynb")
    try:
        if ipynb.is_file() and ipynb.stat().st_size < 20_000_000:
            return parse_ipynb_outputs(ipynb.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return None


def _rss_mb() -> float | None:
    """The engine's resident memory, where /proc tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
