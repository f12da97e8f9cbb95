"""Timing hooks inside the benchmark's Neovim: key arrival, ghost shown, idle again.

``shown`` holds the time of every ``User LlamaCoderSuggestion`` with text on screen
(with ``ui.line_by_line`` the first one after a pause is the first line, still
streaming in); ``final`` the time of those whose suggestion has streamed in whole
(``shown.partial == false``). ``warms`` counts the warm-ups the editor sent.

They use vim.uv.hrtime(), which reads the same monotonic clock as Python's
time.monotonic() on Linux, so times taken in Neovim and at the fake server compare.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.harness import Editor

HOOKS = """
_G.bench = { keys = {}, shown = {}, final = {}, busy_ns = 0, key_count = 0,
  pending_key = nil, shown_tokens = 0, counted_id = nil, warms = 0 }
local engine = package.loaded['llama_coder.engine'] or require('llama_coder.engine')
local send = engine.send
engine.send = function(method, ...)
  if method == 'llama_coder_warm' then
    bench.warms = bench.warms + 1
  end
  return send(method, ...)
end
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
    local now = vim.uv.hrtime()
    table.insert(bench.shown, now)
    local s = require('llama_coder.suggestion').shown
    if s and not s.partial then
      table.insert(bench.final, now)
    end
    -- Tokens the server generated for suggestions on screen (a final result is
    -- last_result when its ghost is drawn; cache hits cost the server nothing).
    local r = require('llama_coder.suggestion').last_result
    if r and r.id ~= bench.counted_id and r.stats and not r.stats.cached then
      bench.counted_id = r.id
      bench.shown_tokens = bench.shown_tokens + (r.stats.predicted_tokens or 0)
    end
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


def shown_tokens(editor: Editor) -> int:
    return int(editor.lua("return bench.shown_tokens"))


def shown_count(editor: Editor) -> int:
    return int(editor.lua("return #bench.shown"))


def last_key_ns(editor: Editor) -> int:
    return int(editor.lua("return bench.keys[#bench.keys]"))


def last_shown_ns(editor: Editor) -> int:
    return int(editor.lua("return bench.shown[#bench.shown]"))


def final_count(editor: Editor) -> int:
    return int(editor.lua("return #bench.final"))


def warms(editor: Editor) -> int:
    return int(editor.lua("return bench.warms"))


def since_last_key(editor: Editor, which: str, keys: int) -> float | None:
    """Once ``keys`` keys have arrived: ms from the last of them to the first time in
    ``bench.shown`` or ``bench.final`` (``which``) after it; None until then."""
    found = editor.lua(
        "local list, keys = bench[...], select(2, ...)"
        " if bench.key_count < keys then return nil end"
        " local key = bench.keys[#bench.keys]"
        " for _, t in ipairs(list) do if t > key then return (t - key) / 1e6 end end"
        " return nil", which, keys)
    return float(found) if found is not None else None


def key_count(editor: Editor) -> int:
    return int(editor.lua("return bench.key_count"))
