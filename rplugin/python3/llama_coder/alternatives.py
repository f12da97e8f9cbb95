"""Other suggestions for the place of a recent completion request (Lua cycles them).

Lua names the request by id; the engine keeps the last few requests, so the window
is not sent again. Other samples come from the filetype's server, and with fallbacks
their answers come first (the same place seen by two servers). Each new one goes to
Lua as it arrives, then ``alternatives_done``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from llama_coder.core.context_ring import ContextRing
from llama_coder.core.errors import LlamaCoderError
from llama_coder.log import LOGGER
from llama_coder.messages import AlternativesRequest, CompletionRequest
from llama_coder.reporter import Editor
from llama_coder.routing import Router
from llama_coder.window import extra_context, snapshot_of

KEPT_REQUESTS = 8  # recent completion requests alternatives may be asked for


@dataclass(frozen=True)
class InFlight:
    """Work that runs: set ``cancel`` to stop it, ``task`` to await it."""

    cancel: asyncio.Event
    task: asyncio.Task[None]


class Alternatives:
    def __init__(self, editor: Editor, ring: ContextRing,
                 payload: Callable[[CompletionRequest, str | None], dict[str, object]]) -> None:
        self.editor = editor
        self.ring = ring
        self._payload = payload
        self._recent: OrderedDict[int, CompletionRequest] = OrderedDict()
        self._current: InFlight | None = None

    def remember(self, request: CompletionRequest) -> None:
        self._recent[request.id] = request
        self._recent.move_to_end(request.id)
        while len(self._recent) > KEPT_REQUESTS:
            self._recent.popitem(last=False)

    def forget(self) -> None:
        self.cancel()
        self._recent.clear()

    def start(self, ask: AlternativesRequest, router: Router) -> None:
        self.cancel()
        request = self._recent.get(ask.id)
        if request is None:
            LOGGER.info("alternatives for request %d: no longer known", ask.id)
            self.editor.send("alternatives_done", {"id": ask.id})
            return
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._run(request, router, cancel, ask.count, set(ask.known)))
        self._current = InFlight(cancel, task)

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel.set()
            self._current = None

    async def _run(self, request: CompletionRequest, router: Router, cancel: asyncio.Event,
                   count: int, found: set[str]) -> None:
        chain = [item for item in router.chain(request.filetype) if not router.is_down(item[0])]
        tries = [(name, completer, 0) for name, completer in chain[1:]]
        if chain:
            tries += [(chain[0][0], chain[0][1], n) for n in range(1, 2 * count)]
        try:
            # The window and the extra context are the same on every server (only
            # server keys differ between routes), so they are read once.
            snapshot = await snapshot_of(request, router.config)
            extra = extra_context(self.ring, router.config, request.path)
            for name, completer, variant in tries:
                if len(found) >= count or cancel.is_set():
                    break
                try:
                    completion = await completer.complete(
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
