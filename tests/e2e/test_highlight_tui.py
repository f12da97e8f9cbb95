"""Ghost text in a real terminal (Neovim's TUI inside tmux, 256 colours): a grey of its
own without 'termguicolors', where the default scheme's Comment has no cterm colour."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import nvim_binary

INIT = """
vim.opt.rtp:prepend(vim.env.LLAMA_CODER_ROOT)
vim.cmd('runtime plugin/llama_coder.lua')
vim.o.termguicolors = vim.env.TGC == '1'
require('llama_coder').setup({})
vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'typed' })
vim.api.nvim_buf_set_extmark(0, vim.api.nvim_create_namespace('llama_coder'), 0, 5,
  { virt_text = { { 'GHOST', 'LlamaCoderSuggestion' } }, virt_text_pos = 'inline' })
"""


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    socket = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    yield socket
    subprocess.run([*socket, "kill-server"], capture_output=True, timeout=30)


def screen_line(tmux: list[str], tmp_path: Path, tgc: bool) -> str:
    init = tmp_path / "init.lua"
    init.write_text(INIT, encoding="utf-8")
    env = " ".join([f"LLAMA_CODER_ROOT={ROOT}", f"TGC={int(tgc)}", "TERM=tmux-256color",
                    f"XDG_STATE_HOME={tmp_path / 'state'}", f"XDG_DATA_HOME={tmp_path / 'data'}"])
    subprocess.run([*tmux, "new-session", "-d", "-x", "60", "-y", "5",
                    f"env {env} {nvim_binary()} --clean -u {init}"], check=True, timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown = subprocess.run([*tmux, "capture-pane", "-e", "-p"], capture_output=True,
                               text=True, timeout=30).stdout
        if "GHOST" in shown:
            return shown.splitlines()[0]
        time.sleep(0.05)
    raise AssertionError("the ghost text never appeared")


def test_ghost_text_is_grey_without_termguicolors(tmux: list[str], tmp_path: Path) -> None:
    line = screen_line(tmux, tmp_path, tgc=False)
    assert re.search(r"typed\x1b\[38;5;244mGHOST", line), repr(line)


def test_ghost_text_has_comments_colour_with_termguicolors(tmux: list[str],
                                                           tmp_path: Path) -> None:
    line = screen_line(tmux, tmp_path, tgc=True)
    # tmux passes the RGB colour on as is; NvimLightGrey4 is #9b9ea4 (the dark default).
    assert re.search(r"typed\x1b\[38;2;155;158;164mGHOST", line), repr(line)
