"""Where Lua reads the buffer for the engine, it sends at least what the engine decides on:
the engine owns the prompt window and the notebook test; Lua only bounds what it sends."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.config import parse_config
from llama_coder.core.notebook import is_percent_notebook
from llama_coder.core.prompt import window
from tests.conftest import ROOT
from tests.e2e.harness import nvim_binary

CONTEXT = parse_config({}).config.context


@given(row=st.integers(0, 100_000), prefix_lines=st.integers(0, 500))
def test_the_window_never_starts_above_what_lua_sends(row: int, prefix_lines: int) -> None:
    ctx = dataclasses.replace(CONTEXT, prefix_lines=prefix_lines)
    start, _ = window(row, row + 1, ctx)
    lua_first = max(0, row - 2 * prefix_lines)  # trigger.lua M.first_line()
    assert start >= lua_first


LUA = """
local root, lines_file = _G.arg[1], _G.arg[2]
vim.opt.rtp:prepend(root)
local trigger = require('llama_coder.trigger')
local lines = vim.json.decode(table.concat(vim.fn.readfile(lines_file), '\\n'))
local out = {}
for i, line in ipairs(lines) do
  out[i] = line:find(trigger.MAYBE_CELL_MARKER) ~= nil
end
io.write(vim.json.encode({ marker = out, first = trigger.first_line(100, 20) }))
"""

LINES = ["# %%", "#%%", "  # %% [markdown]", "# %%%", "# %% cell", "#  %%", "# %", "x # %%",
         "\t#%%x", "# %%[md]", ""]


def test_lua_sends_the_whole_buffer_whenever_the_engine_may_see_a_notebook(
        tmp_path: Path) -> None:
    script, lines = tmp_path / "agree.lua", tmp_path / "lines.json"
    script.write_text(LUA, encoding="utf-8")
    lines.write_text(json.dumps(LINES), encoding="utf-8")
    result = subprocess.run([nvim_binary(), "--clean", "--headless", "-l", str(script),
                             str(ROOT), str(lines)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["first"] == 60
    assert sum(answer["marker"]) >= 6
    for line, maybe in zip(LINES, answer["marker"], strict=True):
        if is_percent_notebook([line]):
            assert maybe, line
