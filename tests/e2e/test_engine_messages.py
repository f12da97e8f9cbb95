"""The engine's messages end to end: arrival order, bytes that are not UTF-8, the
download question, rechecks of a missing model, and requests to the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import LlamaCppFake, OllamaFake

SPY = """
vim.g.results = {}
local bridge = require('llama_coder.bridge')
local receive = bridge.receive
bridge.receive = function(kind, payload)
  if kind == 'result' and payload.text ~= nil and payload.text ~= vim.NIL then
    local r = vim.g.results
    table.insert(r, payload.id)
    vim.g.results = r
  end
  return receive(kind, payload)
end
"""


def settled(editor: Editor) -> bool:
    return not editor.lua("return require('llama_coder.trigger').busy()")


# --- arrival order ------------------------------------------------------------------------

def test_a_cancel_sent_with_its_request_stops_it(editor: Editor, ollama: OllamaFake,
                                                 tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.type("Go    ")
    editor.wait_suggestion()  # the engine runs and the model is known to be there
    editor.lua(SPY)
    ollama.delay = 0.2
    # The request and its cancel right behind it (when both come in one read, only
    # handling them in arrival order stops it: tests/integration/test_plugin.py).
    editor.lua("""
      local engine = require('llama_coder.engine')
      local request = {id = 9999, buf = vim.api.nvim_get_current_buf(), tick = 1, row = 0,
        col = 12, first_line = 0, lines = {'MARKER_9999 '}, path = 'a.py',
        filetype = 'python', expandtab = true, tabstop = 8}
      engine.send('llama_coder_complete', request)
      engine.send('llama_coder_cancel', 9999)
    """)
    ollama.delay = 0.0
    editor.type("z")  # a later request: the engine has handled the two before it
    editor.wait(lambda: 9999 not in editor.nvim.vars["results"]
                and editor.nvim.vars["results"], message="the later result")
    asked = [r for r in ollama.completions() if "MARKER_9999" in json.dumps(r.body)]
    assert all(r.disconnected_at is not None for r in asked), "the cancelled request ran"
    assert 9999 not in editor.nvim.vars["results"]


def test_the_engine_answers_a_request_with_an_error_at_once(editor: Editor,
                                                            tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "x = 1\n")
    editor.type("Go")
    editor.wait(lambda: editor.lua("return require('llama_coder.engine').running()"),
                message="engine")
    ok, message = editor.lua(
        "local ok, err = pcall(vim.rpcrequest, require('llama_coder.engine').chan,"
        " 'llama_coder_complete', {}) return {ok, tostring(err)}")
    assert not ok and "notifications only" in message


# --- bytes that are not UTF-8 -----------------------------------------------------------

def test_invalid_bytes_in_the_window_and_in_other_buffers_still_get_suggestions(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["1"]) as fake:
        ed = editor_factory({"backend": "llamacpp", "endpoint": fake.url, "delay": 10,
                             "prefetch": False})
        # Another buffer read with ++bad=keep: a latin-1 comment among its lines.
        legacy = tmp_path / "legacy.py"
        legacy.write_bytes(b"# d\xe9j\xe0 vu\ndef old_one():\n    return 'caf\xe9'\n"
                           b"def old_two():\n    return 2\n")
        ed.nvim.command(f"cd {tmp_path}")
        ed.nvim.command(f"edit ++enc=utf-8 ++bad=keep {legacy}")
        assert ed.nvim.current.buffer[0] == "# d\udce9j\udce0 vu"  # as pynvim reads it
        ed.edit(tmp_path / "a.py", "")
        # This buffer: invalid bytes before the cursor on its own line, too.
        ed.lua("vim.api.nvim_buf_set_lines(0, 0, -1, false, {'# caf\\233', \"s = '\\233' + \"})"
               " vim.api.nvim_win_set_cursor(0, {2, 9})")
        ed.type("A")
        assert ed.wait_suggestion() == "1"
        body = fake.completions()[-1].body
        assert body["input_prefix"].endswith("# caf\ufffd\ns = '\ufffd' + ")
        extra = json.dumps(body.get("input_extra"), ensure_ascii=False)
        assert "d\ufffdj\ufffd vu" in extra
        assert "error" not in ed.status()
        assert "internal error" not in ed.messages()
        assert ed.lua("return vim.api.nvim_buf_get_lines(0, 0, -1, false)[2]"
                      " == \"s = '\\233' + \"")  # the buffer keeps its bytes


# --- the download question ----------------------------------------------------------------

ASK_SPY = """
vim.g.asked = 0
vim.g.answers = {}
vim.g.rechecks = 0
local ui_select = vim.ui.select
vim.ui.select = function(items, opts, on_choice)
  vim.g.asked = vim.g.asked + 1
  vim.g.items = items
  return ui_select(items, opts, on_choice)
end
local engine = require('llama_coder.engine')
local send = engine.send
engine.send = function(method, ...)
  if method == 'llama_coder_pull_answer' then
    local a = vim.g.answers
    table.insert(a, select('2', ...))
    vim.g.answers = a
  elseif method == 'llama_coder_recheck' then
    vim.g.rechecks = vim.g.rechecks + 1
  end
  return send(method, ...)
end
"""


def test_the_download_question_waits_for_normal_mode_and_enter_says_not_now(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(models=[]) as fake:
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 10,
                             "model": "starcoder2:3b"})
        ed.lua(ASK_SPY)
        ed.edit(tmp_path / "a.py", "x = 1\n")
        ed.type("Go")
        ed.wait(lambda: ed.status() == "model missing: ollama pull starcoder2:3b",
                message="missing")
        ed.type("12<CR>ab")  # typing on: digits and <CR> go to the buffer
        ed.wait(lambda: ed.lines()[1:] == ["12", "ab"], message="typed")
        assert ed.nvim.vars["asked"] == 0
        ed.type("<Esc>")
        ed.wait(lambda: ed.nvim.vars["asked"] == 1, message="asked after <Esc>")
        assert ed.nvim.vars["items"][0] == "Not now"
        ed.type("<CR>")  # a stray <CR>
        ed.wait(lambda: ed.nvim.vars["answers"] == ["not now"], message="answered")
        assert fake.recorded("/api/pull") == []
        assert ed.status() == "model missing: ollama pull starcoder2:3b"
        ed.type("A")
        ed.wait(lambda: settled(ed), message="settled")
        assert ed.nvim.vars["asked"] == 1  # once per session


def test_a_model_pulled_meanwhile_is_found_by_status_and_by_coming_back(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(models=[], tokens=["ok"]) as fake:
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 10,
                             "model": "starcoder2:3b"})
        ed.lua(ASK_SPY)
        ed.edit(tmp_path / "a.py", "x = 1\n")
        ed.type("Go")
        ed.wait(lambda: ed.status().startswith("model missing"), message="missing")
        ed.type("<Esc>")
        ed.wait(lambda: ed.nvim.vars["asked"] == 1, message="asked")
        ed.type("<CR>")
        ed.wait(lambda: ed.nvim.vars["answers"] == ["not now"], message="not now")
        # `ollama pull` in a terminal; the user comes back to typing after a while.
        fake.models.append("starcoder2:3b")
        ed.lua("require('llama_coder.model').on_insert_enter()")
        assert ed.nvim.vars["rechecks"] == 0  # the model was checked a moment ago
        ed.lua("require('llama_coder.model').RECHECK_MS = 0")
        ed.lua("require('llama_coder.model').on_insert_enter()")
        ed.wait(lambda: ed.status() == "idle", message="found again")
        ed.type("Ay")
        assert ed.wait_suggestion() == "ok"
        # A model that goes missing again is found by :LlamaCoderStatus and
        # :checkhealth too (each while its question waits for Normal mode).
        for command in ("LlamaCoderStatus", "checkhealth llama_coder"):
            ed.type("<Esc>")
            fake.models.clear()
            ed.lua("require('llama_coder').setup({backend = 'ollama', endpoint = ...,"
                   " delay = 10, model = 'starcoder2:3b'})", fake.url)
            ed.type("o")
            ed.wait(lambda: ed.status().startswith("model missing"), message="missing again")
            fake.models.append("starcoder2:3b")
            ed.nvim.command(command)
            ed.wait(lambda: ed.lua("return require('llama_coder.status').engine.state")
                    == "idle", message=f"found by {command}")
