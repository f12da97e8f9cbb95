"""The pynvim remote plugin class: the engine's face, one handler per RPC message.

Every handler is an asynchronous notification (Neovim never waits on Python). Each
one only queues its work on the event loop, so messages are handled in the order
they arrived (a cancel sent right after its request finds that request), and the
exception boundary wraps that work itself: nothing raised reaches Neovim's screen,
it goes to the log. The Lua shim starts this plugin in a process of its own (see
``host.py``); it also loads as an ordinary remote plugin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pynvim

from llama_coder.controller import Controller
from llama_coder.log import LOGGER

BRIDGE = "return require('llama_coder.bridge').receive(...)"

Plugin = TypeVar("Plugin", bound="LlamaCoderPlugin")
Work = Callable[[Plugin, list[Any]], None]


class NvimEditor:
    """Messages to the Lua shim as notifications: safe from asyncio tasks, never blocks."""

    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        try:
            self.nvim.exec_lua(BRIDGE, kind, dict(payload), async_=True)
        except Exception:
            LOGGER.exception("could not send %s to Neovim", kind)


def in_order(work: Work[Plugin]) -> Work[Plugin]:
    """Run ``work`` on the event loop after every message that arrived before it,
    inside the exception boundary."""

    def guarded(plugin: Plugin, args: list[Any]) -> None:
        try:
            work(plugin, args)
        except Exception:
            LOGGER.exception("error in %s", work.__name__)

    def handler(plugin: Plugin, args: list[Any]) -> None:
        loop: asyncio.AbstractEventLoop = plugin.nvim.loop
        loop.call_soon(guarded, plugin, list(args))

    handler.__name__ = work.__name__
    handler.__doc__ = work.__doc__
    return handler


def _first_table(args: list[Any]) -> Any:
    return args[0] if args else None


@pynvim.plugin
class LlamaCoderPlugin:
    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim
        self.controller = Controller(NvimEditor(nvim))

    @pynvim.rpc_export("llama_coder_configure", sync=False)
    @in_order
    def configure(self, args: list[Any]) -> None:
        opts = args[0] if args and isinstance(args[0], dict) else {}
        self.controller.configure(opts)

    @pynvim.rpc_export("llama_coder_complete", sync=False)
    @in_order
    def complete(self, args: list[Any]) -> None:
        self.controller.complete(_first_table(args))

    @pynvim.rpc_export("llama_coder_warm", sync=False)
    @in_order
    def warm(self, args: list[Any]) -> None:
        self.controller.warm(_first_table(args))

    @pynvim.rpc_export("llama_coder_cancel", sync=False)
    @in_order
    def cancel(self, args: list[Any]) -> None:
        request_id = args[0] if args and isinstance(args[0], int) else None
        self.controller.cancel(request_id)

    @pynvim.rpc_export("llama_coder_alternatives", sync=False)
    @in_order
    def alternatives(self, args: list[Any]) -> None:
        self.controller.ask_alternatives(_first_table(args))

    @pynvim.rpc_export("llama_coder_context", sync=False)
    @in_order
    def context(self, args: list[Any]) -> None:
        self.controller.add_context(_first_table(args))

    @pynvim.rpc_export("llama_coder_pull_answer", sync=False)
    @in_order
    def pull_answer(self, args: list[Any]) -> None:
        self.controller.pull_answer(args)

    @pynvim.rpc_export("llama_coder_recheck", sync=False)
    @in_order
    def recheck(self, args: list[Any]) -> None:
        self.controller.recheck(str(args[0]) if args else "return")

    @pynvim.rpc_export("llama_coder_health", sync=False)
    @in_order
    def health(self, args: list[Any]) -> None:
        self.controller.health(int(args[0]))


def handlers(plugin: LlamaCoderPlugin) -> dict[str, Callable[[list[Any]], None]]:
    """RPC method name -> bound handler, read from the pynvim decorators."""
    found: dict[str, Callable[[list[Any]], None]] = {}
    for name in dir(plugin):
        method = getattr(plugin, name)
        rpc_name = getattr(method, "_nvim_rpc_method_name", None)
        if rpc_name and getattr(method, "_nvim_rpc_spec", None) is None:
            found[rpc_name] = method
    return found
