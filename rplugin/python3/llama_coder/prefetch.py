"""Speculative prefetch: the suggestion that would follow the one on screen.

When a suggestion has been on screen for a moment, the completion for the place
the cursor will be at once it is accepted is asked for in the background and lands
in the completer's cache, so accepting and going on shows the next suggestion at cache
speed. At most one prefetch is in flight. A real request for the same prompt waits
for it instead of asking twice; any other request, or a keystroke that leaves the
suggestion, cancels it (its connection closes, so the server stops generating).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any

from llama_coder.completer import Completer
from llama_coder.core.errors import LlamaCoderError
from llama_coder.core.prompt import Snapshot
from llama_coder.log import LOGGER

# A suggestion glanced at while typing on is not worth a prefetch: it starts only once
# the suggestion has stayed on screen this long (typing on cancels it before that).
START_AFTER_SECONDS = 0.25


class Prefetcher:
    def __init__(self, start_after: float = START_AFTER_SECONDS) -> None:
        self.start_after = start_after
        self._current: tuple[asyncio.Event, asyncio.Task[None], Any] | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._fetched: deque[Hashable] = deque(maxlen=8)  # prompts it asked for lately

    def start(self, completer: Completer, snapshot: Snapshot, expandtab: bool, tabstop: int,
              extra: Sequence[tuple[str, str]] = ()) -> None:
        """Prefetch for ``snapshot`` once :data:`START_AFTER_SECONDS` have passed."""
        self.cancel()
        self._pending = asyncio.get_running_loop().call_later(
            self.start_after, self._start, completer, snapshot, expandtab, tabstop, extra)

    def _start(self, completer: Completer, snapshot: Snapshot, expandtab: bool, tabstop: int,
               extra: Sequence[tuple[str, str]]) -> None:
        self._pending = None
        key = completer.prompt_key(snapshot)
        if completer.cached(key):
            return  # already known: nothing to ask
        cancel = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._run(completer, snapshot, cancel, expandtab, tabstop, extra))
        self._current = (cancel, task, key)
        self._fetched.append(key)

    def fetched(self, prompt_key: Hashable) -> bool:
        """Was the answer for this prompt (Completer.prompt_key) asked for by a prefetch,
        lately?"""
        return prompt_key in self._fetched

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        current, self._current = self._current, None
        if current is not None and not current[1].done():
            current[0].set()

    async def settle(self, completer: Completer, snapshot: Snapshot) -> None:
        """Before a real request: wait for a prefetch of the same prompt (its answer
        will be in the cache), cancel any other."""
        current = self._current
        if current is None or current[1].done():
            return
        if completer.prompt_key(snapshot) == current[2]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(current[1])
            return
        self.cancel()

    @staticmethod
    async def _run(completer: Completer, snapshot: Snapshot, cancel: asyncio.Event,
                   expandtab: bool, tabstop: int, extra: Sequence[tuple[str, str]]) -> None:
        try:
            await completer.complete(snapshot, cancel, expandtab=expandtab, tabstop=tabstop,
                                  extra=extra)
        except LlamaCoderError as exc:
            LOGGER.debug("prefetch failed: %s", exc)  # the next real request reports it
        except Exception:
            LOGGER.exception("internal error in a prefetch")
