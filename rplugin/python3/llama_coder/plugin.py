"""The pynvim remote plugin class: a router from RPC messages to the controller.

Every handler is an asynchronous notification (Neovim never waits on Python) that
makes one controller call inside an exception boundary. The Lua shim starts this
plugin in a process of its own (see ``host.py``); it also loads as an ordinary
remote plugin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pynvim

from llama_coder.controller import Controller
from llama_coder.log import LOGGER

F = TypeVar("F", bound=Callable[..., Any])

BRIDGE = "return require('llama_coder.bridge').receive(...)"


class NvimEditor:
    """Messages to the Lua shim as notifications: safe from asyncio tasks, never blocks."""

    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        try:
            self.nvim.exec_lua(BRIDGE, kind, dict(payload), async_=True)
        except Exception:
            LOGGER.exception("could not send %s to Neovim", kind)


def boundary(method: F) -> F:
    """No exception from a handler ever reaches Neovim's screen: it goes to the log."""

    def guarded(self: LlamaCoderPlugin, args: list[Any]) -> Any:
        try:
            return method(self, args)
        except Exception:
            LOGGER.exception("error in %s", method.__name__)
            return None

    guarded.__name__ = method.__name__
    guarded.__doc__ = method.__doc__
    return guarded  # type: ignore[return-value]


@pynvim.plugin
class LlamaCoderPlugin:
    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim
        self.controller = Controller(NvimEditor(nvim))

    def _schedule(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the event loop (asyncio tasks need the running loop)."""
        loop: asyncio.AbstractEventLoop = self.nvim.loop
        loop.call_soon(fn)

    @pynvim.rpc_export("llama_coder_configure", sync=False)
    @boundary
    def configure(self, args: list[Any]) -> None:
        opts = args[0] if args and isinstance(args[0], dict) else {}
        self._schedule(lambda: self.controller.configure(opts))

    @pynvim.rpc_export("llama_coder_complete", sync=False)
    @boundary
    def complete(self, args: list[Any]) -> None:
        self._schedule(lambda: self.controller.complete(args[0]))

    @pynvim.rpc_export("llama_coder_cancel", sync=False)
    @boundary
    def cancel(self, args: list[Any]) -> None:
        request_id = int(args[0]) if args and args[0] is not None else None
        self.controller.cancel(request_id)

    @pynvim.rpc_export("llama_coder_alternatives", sync=False)
    @boundary
    def alternatives(self, args: list[Any]) -> None:
        if args and isinstance(args[0], dict):
            self._schedule(lambda: self.controller.alternatives(args[0]))

    @pynvim.rpc_export("llama_coder_context", sync=False)
    @boundary
    def context(self, args: list[Any]) -> None:
        if args and isinstance(args[0], dict):
            # In order with llama_coder_configure, which sizes the ring.
            self._schedule(lambda: self.controller.add_context(args[0]))

    @pynvim.rpc_export("llama_coder_pull_answer", sync=False)
    @boundary
    def pull_answer(self, args: list[Any]) -> None:
        self._schedule(lambda: self.controller.pull_answer(str(args[0]), str(args[1])))

    @pynvim.rpc_export("llama_coder_health", sync=False)
    @boundary
    def health(self, args: list[Any]) -> None:
        self._schedule(lambda: self.controller.health(int(args[0])))

    @pynvim.function("LlamaCoderEngineVersion", sync=True)
    def engine_version(self, _args: list[Any]) -> str:
        from llama_coder.version import VERSION

        return VERSION


def handlers(plugin: LlamaCoderPlugin) -> dict[str, Callable[[list[Any]], Any]]:
    """RPC method name -> bound handler, read from the pynvim decorators."""
    found: dict[str, Callable[[list[Any]], Any]] = {}
    for name in dir(plugin):
        method = getattr(plugin, name)
        rpc_name = getattr(method, "_nvim_rpc_method_name", None)
        if rpc_name and getattr(method, "_nvim_rpc_spec", None) is None:
            found[rpc_name] = method
    return found
