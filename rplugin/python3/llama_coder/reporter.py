"""What the engine tells the Lua shim about itself: status, notifications, errors.

One owner for the state Lua shows (``idle``, ``thinking``, ``downloading``,
``missing``, ``error``): messages that change nothing are not sent, the same error
is notified at most once a minute, and ``thinking`` shows only for requests still
running after a moment (a fast answer makes no statusline flicker). Messages carry no
prefix: the Lua notifier adds the plugin's name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from llama_coder.core.errors import LlamaCoderError, clip
from llama_coder.log import LOGGER

ERROR_REPEAT_SECONDS = 60.0  # the same error is notified again at most this often
THINKING_AFTER_SECONDS = 0.06


class Editor(Protocol):
    """The way back to Neovim: fire-and-forget messages to the Lua shim."""

    def send(self, kind: str, payload: Mapping[str, Any]) -> None: ...


class Reporter:
    def __init__(self, editor: Editor, info: Callable[[], dict[str, Any]]) -> None:
        self.editor = editor
        self._info = info  # the engine's description, sent with every status
        self.shown = ""  # the state Lua shows now
        self._shown_server: dict[str, Any] = {}  # and the server it names
        self.last_error: tuple[str, float] | None = None
        self._thinking: asyncio.TimerHandle | None = None

    def status(self, state: str, **extra: Any) -> None:
        self.stop_thinking()
        info = self._info()
        server = _server_part(info)
        if state == self.shown == "idle" and not extra and server == self._shown_server:
            return  # nothing changed for Lua
        self.shown = state
        self._shown_server = server
        self.editor.send("status", {"state": state, "info": info, **extra})

    def thinking_soon(self) -> None:
        """Show ``thinking`` if the request is still running after a moment."""
        self.stop_thinking()
        self._thinking = asyncio.get_running_loop().call_later(
            THINKING_AFTER_SECONDS, self.status, "thinking")

    def stop_thinking(self) -> None:
        if self._thinking is not None:
            self._thinking.cancel()
            self._thinking = None

    def settle(self) -> None:
        """A request ended without an answer: ``thinking`` must not stay on screen."""
        self.stop_thinking()
        if self.shown == "thinking":
            self.status("idle")

    def notify(self, message: str, level: str) -> None:
        self.editor.send("notify", {"message": message, "level": level})

    def fail(self, error: LlamaCoderError, kind: str | None = None) -> None:
        """An error: notified (not again within a minute) and shown in the status."""
        message = str(error)
        now = time.monotonic()
        last = self.last_error
        if last is None or last[0] != message or now - last[1] > ERROR_REPEAT_SECONDS:
            self.notify(message, "error")
            self.last_error = (message, now)
        LOGGER.warning("%s", message)
        self.status("error", detail=kind or error.short, message=clip(message, 300))


# What changes with every request; the rest of the info names the server (which one
# answered, and the one backend = 'auto' found): a change there is sent.
_VOLATILE = ("latency_ms", "last_error")


def _server_part(info: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in info.items() if key not in _VOLATILE}
