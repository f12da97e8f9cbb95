"""The pynvim remote plugin class: a thin router into the engine (filled by the Neovim issue)."""

from __future__ import annotations

from typing import Any

import pynvim


@pynvim.plugin
class LlamaCoderPlugin:
    def __init__(self, nvim: Any) -> None:
        self.nvim = nvim

    @pynvim.function("LlamaCoderEngineVersion", sync=True)
    def engine_version(self, _args: list[Any]) -> str:
        from llama_coder.version import VERSION

        return VERSION
