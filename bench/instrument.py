"""Timing hooks inside the benchmark's Neovim: key arrival, ghost shown, idle again.

They use vim.uv.hrtime(), which reads the same monotonic clock as Python's
time.monotonic() on Linux, so times taken in Neovim and at the fake server compare.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Editor

HOOKS = """
_G.bench = { keys = {}, shown = {}, busy_ns = 0, key_count = 0, pending_key = nil }
vim.on_key(function()
  local t = vim.uv.hrtime()
  table.insert(bench.keys, t)
  bench.key_count = bench.key_count + 1
  bench.pending_key = bench.pending_key or t
end)
vim.api.nvim_create_autocmd('SafeState', { callback = function()
  if bench.pending_key then
    bench.busy_ns = bench.busy_ns + (vim.uv.hrtime() - bench.pending_key)
    bench.pending_key = nil
  end
end })
vim.api.nvim_create_autocmd('User', { pattern = 'LlamaCoderSuggestion', callback = function()
  if require('llama_coder').suggestion() then
    table.insert(bench.shown, vim.uv.hrtime())
  end
end })
"""


def install(editor: Editor) -> None:
    editor.lua(HOOKS)


def reset(editor: Editor) -> None:
    editor.lua("bench.keys = {} bench.shown = {} bench.busy_ns = 0 bench.key_count = 0")


def get(editor: Editor) -> dict[str, Any]:
    result: dict[str, Any] = editor.lua(
        "return { keys = bench.keys, shown = bench.shown, busy_ns = bench.busy_ns,"
        " key_count = bench.key_count }")
    return result


def shown_count(editor: Editor) -> int:
    return int(editor.lua("return #bench.shown"))


def last_key_ns(editor: Editor) -> int:
    return int(editor.lua("return bench.keys[#bench.keys]"))


def last_shown_ns(editor: Editor) -> int:
    return int(editor.lua("return bench.shown[#bench.shown]"))
