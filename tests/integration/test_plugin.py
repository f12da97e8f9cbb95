"""The pynvim plugin class: messages handled in arrival order, inside the boundary.

pynvim calls the handlers back to back for messages that came in one read; here they
are called the same way, with the plugin's event loop running and a protocol fake as
the server. ``LoopNvim`` stands for what the plugin uses of pynvim's ``Nvim``: its
event loop and fire-and-forget ``exec_lua``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from llama_coder.plugin import LlamaCoderPlugin, handlers
from tests.fakes.backends import OllamaFake
from tests.fakes.server import until


class LoopNvim:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def exec_lua(self, _code: str, kind: str, payload: dict[str, Any], async_: bool) -> None:
        assert async_  # the engine never waits on Neovim
        self.sent.append((kind, payload))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p for k, p in self.sent if k == kind]


def request(request_id: int) -> dict[str, Any]:
    return {"id": request_id, "buf": 1, "tick": 1, "row": 0, "col": 4, "first_line": 0,
            "lines": ["x = "], "path": "a.py", "filetype": "python"}


async def test_a_cancel_that_came_with_its_request_stops_it() -> None:
    nvim = LoopNvim()
    plugin = LlamaCoderPlugin(nvim)
    table = handlers(plugin)
    with OllamaFake(tokens=["1"]) as fake:
        fake.delay = 0.1
        table["llama_coder_configure"]([{"backend": "ollama", "endpoint": fake.url}])
        table["llama_coder_complete"]([request(1)])
        table["llama_coder_cancel"]([1])
        table["llama_coder_health"]([7])  # handled after both
        assert await until(lambda: bool(nvim.of("health")))
        assert await until(lambda: plugin.controller._current is None)
        assert fake.completions() == []
        assert nvim.of("result") == []
        await plugin.controller.shutdown()


async def test_the_boundary_wraps_the_work_and_later_messages_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    nvim = LoopNvim()
    plugin = LlamaCoderPlugin(nvim)
    table = handlers(plugin)
    with OllamaFake() as fake:
        table["llama_coder_configure"]([{"backend": "ollama", "endpoint": fake.url}])
        with caplog.at_level(logging.ERROR, logger="llama_coder"):
            table["llama_coder_health"](["not a token"])  # raises in the deferred work
            table["llama_coder_health"]([8])
            assert await until(lambda: bool(nvim.of("health")))
        assert [p["token"] for p in nvim.of("health")] == [8]
        assert any("error in health" in r.getMessage() for r in caplog.records)
        await plugin.controller.shutdown()


def test_every_handler_is_a_notification_in_order() -> None:
    names = {"llama_coder_configure", "llama_coder_complete", "llama_coder_cancel",
             "llama_coder_alternatives", "llama_coder_context", "llama_coder_pull_answer",
             "llama_coder_recheck", "llama_coder_health", "llama_coder_warm"}
    table = handlers(LlamaCoderPlugin.__new__(LlamaCoderPlugin))
    assert set(table) == names
    for name in names:
        method = getattr(LlamaCoderPlugin, name.removeprefix("llama_coder_"))
        assert method._nvim_rpc_sync is False
