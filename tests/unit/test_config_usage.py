"""Every schema key is read by the code meant to use it (no more `cutom.format`)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any, cast

from llama_coder.controller import CompletionRequest, Controller
from llama_coder.core.config import SCHEMA, Config, parse_config
from llama_coder.core.prompt import Snapshot
from llama_coder.window import extra_context
from tests.conftest import ROOT

# Properties of Config and the keys they read.
DERIVED = {"resolved_endpoint": ("endpoint", "backend")}


class Recorder:
    """Wraps a config; notes every dotted key read through it."""

    def __init__(self, target: Any, seen: set[str], prefix: str = "") -> None:
        self._target, self._seen, self._prefix = target, seen, prefix

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        key = self._prefix + name
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return Recorder(value, self._seen, key + ".")
        self._seen.update(DERIVED.get(name, (key,)))
        return value


class SilentEditor:
    def send(self, kind: str, payload: Any) -> None:
        pass


NOTEBOOK = ["import os", "# %% [markdown]", "# Title", "# %%", "x = 1", "# %%", "y = "]


async def test_every_engine_key_is_read_by_the_engine(tmp_path: Path) -> None:
    seen: set[str] = set()
    raw = {"backend": "ollama", "api_key_env": "LLAMA_CODER_UNSET_FOR_TEST",
           "notebook": {"include_cell_outputs": True}, "cache": {"disk": True},
           "formats": {"mine": {"prefix": "<a>", "suffix": "<b>", "middle": "<c>"}}}
    config = cast(Config, Recorder(parse_config(raw).config, seen))
    controller = Controller(SilentEditor(), environ={"LLAMA_CODER_CACHE_DIR": str(tmp_path)})
    controller.apply(config)
    completer = controller.completer
    assert completer is not None
    try:
        block = completer.plan(Snapshot(["def f(", ")"], 0, 0, 6, "a.py", "python"))
        completer._staged(block, lambda lines: None, 0)
        completer.plan(Snapshot(NOTEBOOK, 0, 6, 4, "nb.py", "python", [["out"]]))
        completer.source()
        request = CompletionRequest(1, 1, 1, 0, 0, 0, [""])
        controller._streaming(request, asyncio.Event())
        extra_context(controller.ring, completer.config, "a.py")
        assert controller.router is not None
        controller.router.failed("main")
        controller._prefetch(completer, Snapshot(["x = "], 0, 0, 4, "a.py", "python"), request,
                             "1")
    finally:
        await controller.shutdown()
    engine_keys = {opt.key for opt in SCHEMA if opt.consumer == "engine"}
    assert engine_keys - seen == set()


def test_every_lua_key_is_read_by_the_lua_shim() -> None:
    lua = "\n".join(p.read_text(encoding="utf-8")
                    for p in (ROOT / "lua" / "llama_coder").rglob("*.lua"))
    for opt in SCHEMA:
        if opt.consumer == "lua":
            pattern = r"config\." + re.escape(opt.key) + r"\b"
            assert re.search(pattern, lua), f"{opt.key} is never read in lua/llama_coder"
