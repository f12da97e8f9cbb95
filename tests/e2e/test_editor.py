"""The Neovim experience end to end: real Neovim 0.11.4, the engine co-process, protocol fakes."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import Editor
from tests.fakes.backends import LlamaCppFake, OllamaFake


def start_line(editor: Editor, tmp_path: Path, text: str = "def f(x):\n") -> None:
    editor.edit(tmp_path / "a.py", text)
    editor.type("Go    ")


def requests_settled(editor: Editor) -> bool:
    return not editor.lua("return require('llama_coder.trigger').busy()")


# --- ghost text -----------------------------------------------------------------------

def test_ghost_text_content_and_position(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    assert editor.wait_suggestion() == "return x + 1"
    marks = editor.extmarks()
    assert len(marks) == 1
    _, row, col, details = marks[0]
    assert (row, col) == (1, 4)
    assert details["virt_text"][0][0] == "return x + 1"
    assert details["virt_text"][0][1] == "LlamaCoderSuggestion"
    assert details["virt_text_pos"] == "inline"
    assert editor.lines() == ["def f(x):", "    "]  # nothing inserted


def test_multiline_ghost_uses_virt_lines(editor: Editor, ollama: OllamaFake,
                                         tmp_path: Path) -> None:
    ollama.tokens = ["y = x\n", "    return y"]
    start_line(editor, tmp_path)
    assert editor.wait_suggestion() == "y = x\n    return y"
    details = editor.extmarks()[0][3]
    assert details["virt_text"][0][0] == "y = x"
    assert details["virt_lines"] == [[["    return y", "LlamaCoderSuggestion"]]]


def test_mid_line_suggestion_is_one_line_and_the_server_stops_at_the_newline(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.tokens = ["alf(a)", " *\n", "    more = 1"]  # would stream two lines
    editor.edit(tmp_path / "a.py", "y = f(a) + g(b)\n")
    editor.type("0f+ih")  # code after the cursor: "+ g(b)"
    assert editor.wait_suggestion() == "alf(a) *"
    assert editor.extmarks()[0][3].get("virt_lines") is None
    assert ollama.completions()[-1].body["options"]["stop"][0] == "\n"
    # At the end of a line that opens a block the same answer runs on.
    editor.type("<Esc>o    if y:")
    editor.wait(lambda: editor.suggestion() == "alf(a) *\n    more = 1",
                message="a block suggestion")
    assert "\n" not in ollama.completions()[-1].body["options"]["stop"]


def test_request_carries_the_window_and_fim_prompt(editor: Editor, ollama: OllamaFake,
                                                   tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    body = ollama.completions()[-1].body
    assert body["prompt"] == (
        "<|fim_prefix|># Language: Python\n# Path: a.py\ndef f(x):\n    "
        "<|fim_suffix|><|fim_middle|>"
    )


def test_accept_is_one_undo_step_and_dot_repeats(editor: Editor, tmp_path: Path) -> None:
    editor.nvim.command("set noautoindent")  # `.` would add the line above's indent
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<Tab>")
    editor.wait(lambda: editor.lines()[1] == "    return x + 1", message="accepted text")
    assert editor.cursor() == (2, 16)
    assert editor.mode() == "i"
    assert editor.suggestion() is None
    editor.type("<Esc>")
    editor.wait(lambda: editor.mode() == "n", message="normal mode")
    editor.type(".")
    editor.wait(lambda: len(editor.lines()) == 3, message="dot repeat")
    assert editor.lines() == ["def f(x):", "    return x + 1", "    return x + 1"]
    editor.type("uu")
    editor.wait(lambda: editor.lines() == ["def f(x):"], message="two undo steps")


def test_accept_keeps_multiline_indentation(editor: Editor, ollama: OllamaFake,
                                            tmp_path: Path) -> None:
    ollama.tokens = ["if x:\n", "        return 1\n", "    return 2"]
    editor.nvim.command("set autoindent smartindent")
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<Tab>")
    editor.wait(lambda: len(editor.lines()) >= 4, message="accepted lines")
    assert editor.lines()[1:4] == ["    if x:", "        return 1", "    return 2"]
    assert editor.cursor() == (4, 12)


def test_accept_word_and_line_keep_the_rest(editor: Editor, ollama: OllamaFake,
                                            tmp_path: Path) -> None:
    ollama.tokens = ["return x\n", "    pass"]
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<C-Right>")
    editor.wait(lambda: editor.lines()[1] == "    return", message="word accepted")
    assert editor.suggestion() == " x\n    pass"
    editor.type("<C-Down>")
    editor.wait(lambda: editor.lines()[1] == "    return x", message="line accepted")
    assert editor.suggestion() == "\n    pass"
    editor.type("<C-Down>")
    editor.wait(lambda: editor.lines()[2] == "    pass", message="next line accepted")
    assert editor.suggestion() is None


def test_dismiss(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<C-]>")
    editor.wait(lambda: editor.suggestion() is None, message="dismissed")
    assert editor.extmarks() == []
    assert editor.lines()[1] == "    "


def test_tab_without_suggestion_is_a_literal_tab(editor: Editor, tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.txt", "", filetype="gitcommit")  # no suggestions here
    editor.nvim.command("setlocal noexpandtab")
    editor.type("ia<Tab>b")
    editor.wait(lambda: editor.lines() == ["a\tb"], message="literal tab")


def test_tab_falls_back_to_the_previous_mapping(editor_factory: Callable[..., Editor],
                                                ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30})
    ed.lua("vim.keymap.set('i', '<S-F1>', 'X') "
           "vim.keymap.set('i', '<Tab>', '<Cmd>lua vim.g.tab_seen = 1<CR>')")
    ed.lua("require('llama_coder').setup(vim.json.decode(vim.env.LLAMA_CODER_OPTS or '{}'))")
    ed.edit(tmp_path / "b.txt", "", filetype="gitcommit")
    ed.type("i<Tab>")
    ed.wait(lambda: ed.nvim.vars.get("tab_seen") == 1, message="previous <Tab> mapping")


def test_tab_mapping_survives_setup_without_llama_mapping(
    editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path
) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "keymap": {"accept": False}})
    tab = ed.nvim.call("maparg", "<Tab>", "i", False, True)
    assert "llama-coder" not in tab.get("desc", "")  # Neovim's own <Tab> map is left alone
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    ed.wait_suggestion()
    ed.type("<Plug>(llama-coder-accept)")
    ed.wait(lambda: ed.lines()[1] == "    return x + 1", message="accept via <Plug>")


# --- the typing path ------------------------------------------------------------------

def test_keystroke_during_a_slow_stream_cancels_it(editor: Editor, ollama: OllamaFake,
                                                   tmp_path: Path) -> None:
    ollama.delay = 0.3
    start_line(editor, tmp_path)
    editor.wait(lambda: len(ollama.completions()) == 1, message="first request")
    editor.type("r")
    assert ollama.wait_for(lambda: ollama.completions()[0].disconnected_at is not None, 5)
    # The stale answer is never drawn: the ghost that appears is for "    r".
    text = editor.wait_suggestion()
    assert len(ollama.completions()) == 2
    assert ollama.completions()[1].finished_at is not None
    assert editor.lines()[1] == "    r"
    assert text == "return x + 1"


def test_result_for_a_moved_cursor_is_dropped(editor: Editor, ollama: OllamaFake,
                                              tmp_path: Path) -> None:
    ollama.delay = 0.2
    start_line(editor, tmp_path)
    editor.wait(lambda: len(ollama.completions()) == 1, message="request")
    editor.type("<Esc>")
    ollama.wait_for(lambda: ollama.completions()[0].disconnected_at is not None
                    or ollama.completions()[0].finished_at is not None, 5)
    editor.wait(lambda: requests_settled(editor), message="nothing pending")
    assert editor.extmarks() == []


def test_typing_through_makes_no_request(editor: Editor, ollama: OllamaFake,
                                         tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    before = len(ollama.completions())
    editor.type("ret", gap=0.02)
    editor.wait(lambda: editor.suggestion() == "urn x + 1", message="trimmed ghost")
    assert requests_settled(editor)
    assert len(ollama.completions()) == before
    editor.type("X")  # a different character: the ghost goes, a new request comes
    editor.wait(lambda: len(ollama.completions()) == before + 1, message="new request")


def test_cache_answers_a_repeat_without_the_server(editor: Editor, ollama: OllamaFake,
                                                   tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("x")
    editor.wait(lambda: len(ollama.completions()) == 2 and editor.suggestion(),
                message="second suggestion")
    editor.type("<BS>")
    editor.wait(lambda: editor.lines()[1] == "    " and editor.suggestion() == "return x + 1"
                and requests_settled(editor), message="ghost back from the cache")
    assert len(ollama.completions()) == 2  # "    " again came from the cache


def test_the_debounce_counts_from_the_last_key(editor_factory: Callable[..., Editor],
                                               ollama: OllamaFake, tmp_path: Path) -> None:
    # Keys 100 ms apart for 1.2 s with a 500 ms delay: while typing, a key only moves
    # the deadline, so one request comes, for the place after the last key.
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 500,
                         "prefetch": False})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    ed.type("abcdefghijkl", gap=0.1)
    ed.wait(lambda: len(ollama.completions()) >= 1, message="a request")
    ed.wait(lambda: requests_settled(ed), message="settled")
    assert len(ollama.completions()) == 1
    prompt = ollama.completions()[0].body["prompt"]
    assert prompt.endswith("abcdefghijkl<|fim_suffix|><|fim_middle|>")


def test_delay_minus_one_means_manual_only(editor_factory: Callable[..., Editor],
                                           ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": -1})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    ed.wait(lambda: ed.lines()[1] == "    ", message="typed")
    ed.wait(lambda: requests_settled(ed), message="settled")
    assert ollama.completions() == []
    ed.type("<M-\\>")
    assert ed.wait_suggestion() == "return x + 1"


def test_pause_resume_toggle_and_status(editor: Editor, ollama: OllamaFake,
                                        tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    assert editor.status() == "idle"
    editor.nvim.command("LlamaCoderPause")
    assert editor.status() == "paused"
    editor.type("Go    ")
    editor.wait(lambda: editor.lines()[1] == "    ", message="typed")
    editor.wait(lambda: requests_settled(editor), message="settled")
    assert ollama.completions() == []
    editor.nvim.command("LlamaCoderToggle")
    assert editor.status() == "idle"
    editor.type("r")
    editor.wait_suggestion()
    editor.nvim.command("LlamaCoderToggle")
    assert editor.status() == "paused" and editor.suggestion() is None
    editor.nvim.command("LlamaCoderResume")
    assert editor.status() == "idle"


def test_status_thinking_then_idle_and_user_events(editor: Editor, ollama: OllamaFake,
                                                   tmp_path: Path) -> None:
    editor.lua("vim.g.seen = {} vim.api.nvim_create_autocmd('User', {pattern = "
               "'LlamaCoderStatus', callback = function() local s = vim.g.seen "
               "table.insert(s, require('llama_coder').status()) vim.g.seen = s end}) "
               "vim.g.shown = 0 vim.api.nvim_create_autocmd('User', {pattern = "
               "'LlamaCoderSuggestion', callback = function() vim.g.shown = vim.g.shown + 1 "
               "end})")
    ollama.first_delay = 0.3
    start_line(editor, tmp_path)
    editor.wait(lambda: editor.status() == "thinking", message="thinking")
    editor.wait_suggestion()
    editor.wait(lambda: editor.status() == "idle", message="idle")
    assert "thinking" in editor.nvim.vars["seen"]
    assert editor.nvim.vars["shown"] >= 1


def test_status_command(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    text = "\n".join(editor.lua("return require('llama_coder').status_lines()"))
    assert "backend   ollama" in text
    assert "model     qwen2.5-coder:1.5b-base" in text
    assert "format    qwen (prompt built by the client)" in text
    assert "latency   " in text and "engine    running" in text


def test_filetype_filter(editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    editor.edit(tmp_path / "COMMIT_EDITMSG", "", filetype="gitcommit")
    assert editor.status() == "off"
    editor.type("iFix the thing")
    editor.wait(lambda: editor.lines() == ["Fix the thing"], message="typed")
    editor.wait(lambda: requests_settled(editor), message="settled")
    assert ollama.completions() == []


def test_special_buffers_get_no_requests(editor: Editor, ollama: OllamaFake) -> None:
    editor.nvim.command("enew | setlocal buftype=nofile")
    editor.type("ihello")
    editor.wait(lambda: editor.lines() == ["hello"], message="typed")
    editor.wait(lambda: requests_settled(editor), message="settled")
    assert ollama.completions() == []


def test_percent_notebook_cells_reach_the_prompt(editor: Editor, ollama: OllamaFake,
                                                 tmp_path: Path) -> None:
    text = "import math\n# %% [markdown]\n# # Title\n# %%\nx = math.pi\n# %%\n"
    editor.edit(tmp_path / "nb.py", text)
    editor.type("Goy = ")
    editor.wait_suggestion()
    prompt = ollama.completions()[-1].body["prompt"]
    assert "# # Title\n# %%\nx = math.pi\n# %%\ny = <|fim_suffix|>" in prompt


def test_cells_outside_the_window_count_even_when_the_marker_is_new(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    # Markers are looked for in the whole buffer once per Insert session, and in the
    # lines each request reads: here the markdown cell starts far above the window.
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                             "notebook": {"include_markup": False}, "prefetch": False})
    notes = "".join(f"# note {i}\n" for i in range(100))
    editor.edit(tmp_path / "nb.py", notes + "x = 1\n")
    editor.type("Goz = ")
    editor.wait_suggestion()
    assert "# note 90" in ollama.completions()[-1].body["prompt"]  # no notebook yet
    editor.type("<C-Home># %% [markdown]<CR><C-End><CR># %%<CR>y = ")
    editor.wait(lambda: "y = <|fim_suffix|>" in ollama.completions()[-1].body["prompt"],
                message="a request for y = ")
    prompt = ollama.completions()[-1].body["prompt"]
    assert "# note 90" not in prompt  # the markdown cell (all lines above) left out


def test_setup_again_reconfigures_the_running_engine(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    with LlamaCppFake(tokens=["from", " llama"]) as other:
        editor.lua("require('llama_coder').setup({backend = 'llamacpp', endpoint = ...,"
                   " delay = 30})", other.url)
        editor.type("<Esc>")
        editor.type("o    ")
        assert editor.wait_suggestion() == "from llama"
        assert other.completions()


def test_bad_config_is_one_notification_naming_keys(editor_factory: Callable[..., Editor],
                                                    ollama: OllamaFake,
                                                    tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "max_lines": "many", "notebok": {"include_markup": True}})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    assert ed.wait_suggestion() == "return x + 1"  # still works, with defaults
    messages = ed.messages()
    assert "max_lines must be an integer" in messages
    assert "did you mean notebook.include_markup" in messages
    assert "Traceback" not in messages


# --- model availability ---------------------------------------------------------------

def choose(editor: Editor, answer: str) -> None:
    editor.lua("local answer = ... vim.g.asked = 0 vim.ui.select = function(items, opts, cb) "
               "vim.g.asked = vim.g.asked + 1 vim.g.prompt = opts.prompt "
               "for _, item in ipairs(items) do if item == answer then "
               "vim.schedule(function() cb(item) end) return end end end", answer)


def test_missing_model_download_with_progress(editor_factory: Callable[..., Editor],
                                              tmp_path: Path) -> None:
    with OllamaFake(models=[], tokens=["ok"]) as fake:
        fake.pull_delay = 0.05
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 30,
                             "model": "starcoder2:3b"})
        choose(ed, "Download")
        ed.lua("vim.g.seen = {} vim.api.nvim_create_autocmd('User', {pattern = "
               "'LlamaCoderStatus', callback = function() local s = vim.g.seen "
               "table.insert(s, require('llama_coder').status()) vim.g.seen = s end})")
        ed.edit(tmp_path / "a.py", "def f(x):\n")
        ed.type("Go    ")
        ed.wait(lambda: ed.status() == "model missing: ollama pull starcoder2:3b",
                message="missing")
        ed.type("<Esc>")  # the question waits until the user stops typing
        ed.wait(lambda: "starcoder2:3b" in fake.models, message="pulled")
        assert "starcoder2:3b" in ed.nvim.vars["prompt"]
        ed.wait(lambda: "model starcoder2:3b downloaded" in ed.messages(), message="notified")
        seen = ed.nvim.vars["seen"]
        assert any(s.startswith("downloading") and s != "downloading 0%" for s in seen), seen
        ed.type("A")
        assert ed.wait_suggestion() == "ok"


def test_never_is_remembered_across_restarts(editor_factory: Callable[..., Editor],
                                             tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with OllamaFake(models=[]) as fake:
        opts = {"backend": "ollama", "endpoint": fake.url, "delay": 30, "model": "codellama:7b"}
        ed = editor_factory(opts, home=home)
        choose(ed, "Never for this model")
        ed.edit(tmp_path / "a.py", "x = 1\n")
        ed.type("Go")
        ed.wait(lambda: ed.status().startswith("model missing"), message="missing")
        ed.type("<Esc>")
        ed.wait(lambda: ed.nvim.vars.get("asked") == 1, message="asked once")
        never = home / "state" / "nvim" / "llama-coder" / "never-pull.json"
        ed.wait(never.exists, message="never file")
        assert json.loads(never.read_text()) == {"codellama:7b": True}
        ed.close(keep_home=True)
        again = editor_factory(opts, home=home)
        choose(again, "Download")
        again.edit(tmp_path / "b.py", "x = 1\n")
        again.type("Go")
        again.wait(lambda: fake.recorded("/api/tags") and len(fake.recorded("/api/tags")) >= 2,
                   message="second model check")
        again.wait(lambda: requests_settled(again), message="settled")
        # Not asked, and the status still says what is wrong.
        again.wait(lambda: again.status() == "model missing: ollama pull codellama:7b",
                   message="missing in the status")
        again.type("<Esc>")
        again.wait(lambda: again.mode() == "n", message="normal mode")
        assert again.nvim.vars.get("asked") == 0
        assert fake.recorded("/api/pull") == []


def test_missing_model_on_a_server_that_cannot_pull(editor_factory: Callable[..., Editor],
                                                    tmp_path: Path) -> None:
    with LlamaCppFake() as fake:
        ed = editor_factory({"backend": "llamacpp", "endpoint": fake.url, "delay": 30,
                             "model": "codellama-13b"})
        ed.edit(tmp_path / "a.py", "x = 1\n")
        ed.type("Go")
        ed.wait(lambda: ed.status() == "model missing: codellama-13b", message="missing")
        assert "llama-server -m" in ed.messages()
        assert fake.completions() == []


# --- errors and the engine process ----------------------------------------------------

def test_unreachable_server_one_message_then_recovery(editor_factory: Callable[..., Editor],
                                                      tmp_path: Path) -> None:
    fake = OllamaFake(tokens=["back"])
    fake.start()
    url = fake.url
    fake.stop()
    ed = editor_factory({"backend": "ollama", "endpoint": url, "delay": 30})
    ed.edit(tmp_path / "a.py", "x = 1\n")
    ed.type("Go")
    ed.wait(lambda: ed.status() == "error: unreachable", message="error status")
    ed.type("ab", gap=0.1)
    ed.wait(lambda: requests_settled(ed), message="settled")
    assert ed.messages().count("cannot reach") == 1
    # The server comes back on the same port: the next keystroke recovers.
    with OllamaFake(tokens=["back"], port=int(url.rsplit(":", 1)[1])) as revived:
        ed.type("c")
        assert ed.wait_suggestion() == "back"
        assert revived.completions()
        ed.wait(lambda: ed.status() == "idle", message="idle again")


def test_engine_killed_comes_back_on_next_keystroke(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    pid = editor.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)")
    os.kill(pid, signal.SIGKILL)
    editor.wait(lambda: not editor.lua("return require('llama_coder.engine').running()"),
                message="engine gone")
    assert "the engine stopped" in editor.messages()
    editor.type("<Esc>o    ")
    assert editor.wait_suggestion() == "return x + 1"
    assert editor.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)") != pid


def test_engine_killed_mid_stream(editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.delay = 0.3
    start_line(editor, tmp_path)
    editor.wait(lambda: len(ollama.completions()) == 1, message="streaming")
    pid = editor.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)")
    os.kill(pid, signal.SIGKILL)
    assert ollama.wait_for(lambda: ollama.completions()[0].disconnected_at is not None, 5)
    editor.wait(lambda: not editor.lua("return require('llama_coder.engine').running()"),
                message="engine gone")
    assert editor.extmarks() == [] and editor.lines() == ["def f(x):", "    "]
    ollama.delay = 0.0
    editor.type("r")
    assert editor.wait_suggestion() == "return x + 1"


def test_engine_without_pynvim_says_how_to_fix(editor_factory: Callable[..., Editor],
                                               ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "python": "/usr/bin/python3"},
                        env={"PYTHONNOUSERSITE": "1"})
    has_pynvim = os.system("/usr/bin/python3 -c 'import pynvim' 2>/dev/null") == 0
    if has_pynvim:
        pytest.skip("system python has pynvim")
    ed.edit(tmp_path / "a.py", "x = 1\n")
    ed.type("Go")
    ed.wait(lambda: ":LlamaCoderInstall" in ed.messages(), message="advice")
    messages = ed.messages()
    assert "/usr/bin/python3 lacks (pynvim)" in messages
    assert "remove `python` from setup() and run :LlamaCoderInstall" in messages
    # No pip command: on PEP 668 systems (Debian 12, Fedora, Homebrew) it would fail.
    assert "pip install" not in messages and "Traceback" not in messages
    ed.type("abc")
    ed.wait(lambda: ed.lines()[1] == "abc", message="typing unaffected")


def test_log_file_is_private_and_keys_masked(editor_factory: Callable[..., Editor],
                                             ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.api_key = "right"
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "api_key_env": "LC_TEST_KEY", "log": {"level": "debug"}},
                        env={"LC_TEST_KEY": "sk-canary-4242"})
    ed.edit(tmp_path / "a.py", "x = 1\n")
    ed.type("Go")
    ed.wait(lambda: ed.status().startswith("error"), message="auth error")
    log = ed.home / "state" / "nvim" / "llama-coder.log"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    everything = ed.log_text() + ed.messages() + "\n".join(
        ed.lua("return require('llama_coder').status_lines()"))
    assert "sk-canary-4242" not in everything
    assert "authentication failed" in everything


def test_checkhealth(editor: Editor, tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "x = 1\n")
    editor.nvim.command("checkhealth llama_coder")
    text = "\n".join(editor.lines())
    assert "OK Neovim 0.11.4" in text
    assert "OK pynvim" in text and "OK httpx" in text
    assert "OK engine running (version " in text
    assert "OK configuration valid" in text
    assert "OK reachable" in text
    assert "OK model qwen2.5-coder:1.5b-base is on the server" in text
    assert "FIM format qwen, prompt built by the client" in text
    assert "llama-coder.log" in text


def test_checkhealth_never_shows_the_key(editor_factory: Callable[..., Editor],
                                         ollama: OllamaFake) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url,
                         "api_key_env": "LC_KEY", "bearer_token": "tok-canary-77"},
                        env={"LC_KEY": "sk-canary-4242"})
    ed.nvim.command("checkhealth llama_coder")
    text = "\n".join(ed.lines())
    assert "API key variable LC_KEY is set" in text
    assert "sk-canary-4242" not in text and "tok-canary-77" not in text
    status = "\n".join(ed.lua("return require('llama_coder').status_lines()"))
    assert "canary" not in status and "canary" not in ed.messages()


def test_fixing_python_recovers_on_the_next_keystroke(editor_factory: Callable[..., Editor],
                                                     ollama: OllamaFake,
                                                     tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "python": "/nonexistent/python3"})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go")
    ed.wait(lambda: "cannot start the engine" in ed.messages(), message="one message")
    ed.type("ab")
    ed.wait(lambda: ed.lines()[1] == "ab", message="typing unaffected")
    ed.lua("require('llama_coder').setup({backend = 'ollama', endpoint = ..., delay = 30,"
           " python = vim.env.LLAMA_CODER_PYTHON})", ollama.url)
    ed.type("<BS><BS>    ")  # setup() lifted the pause that follows a failed start
    assert ed.wait_suggestion() == "return x + 1"


def test_checkhealth_reports_problems(editor_factory: Callable[..., Editor],
                                      tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": "http://127.0.0.1:9",
                         "api_key_env": "LC_NOT_SET", "temperature": 9})
    ed.nvim.command("checkhealth llama_coder")
    text = "\n".join(ed.lines())
    assert "temperature must be a number from 0 to 2" in text
    assert "ERROR" in text and "cannot reach http://127.0.0.1:9" in text
    assert "API key variable LC_NOT_SET is not set" in text


def test_user_config_types_reach_lua(editor: Editor) -> None:
    assert editor.lua("return require('llama_coder.config').current().delay") == 30
    assert editor.lua("return require('llama_coder.config').current().filetypes.help") is False


def test_ghost_hides_while_the_popup_menu_is_open(editor: Editor, tmp_path: Path) -> None:
    editor.nvim.command("set completeopt=menu,menuone,noinsert,noselect")
    editor.edit(tmp_path / "a.py", "def f(x):\n    return_value = 1")
    editor.type("Go    ")
    editor.wait_suggestion()
    editor.type("<C-n>")  # keyword completion menu, nothing inserted
    editor.wait(lambda: editor.nvim.call("pumvisible") == 1, message="menu open")
    editor.wait(lambda: editor.extmarks() == [], message="ghost hidden")
    assert editor.suggestion() == "return x + 1"  # kept, only hidden
    editor.type("<C-e>")
    editor.wait(lambda: len(editor.extmarks()) == 1, message="ghost back after the menu")


def test_tabs_in_inline_ghost_are_expanded(editor: Editor, ollama: OllamaFake,
                                           tmp_path: Path) -> None:
    ollama.tokens = ["a\tb"]
    editor.edit(tmp_path / "a.py", "")
    editor.nvim.command("setlocal tabstop=4")
    editor.type("ix")
    assert editor.wait_suggestion() == "a\tb"
    assert editor.extmarks()[0][3]["virt_text"][0][0] == "a  b"  # "xa" then a tab to col 4


def test_show_while_streaming_draws_before_the_end(editor_factory: Callable[..., Editor],
                                                   tmp_path: Path) -> None:
    with OllamaFake(tokens=["one", " two", " three", " four"], delay=0.15) as fake:
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20,
                             "ui": {"show_while_streaming": True}})
        ed.edit(tmp_path / "a.py", "")
        ed.type("ix = ")
        first = ed.wait(ed.suggestion, message="a partial suggestion")
        assert fake.completions()[-1].finished_at is None  # still streaming
        assert first.startswith("one") and first != "one two three four"
        ed.wait(lambda: ed.suggestion() == "one two three four", message="whole suggestion")


def test_a_stuck_model_check_does_not_hold_up_the_next_request(
    editor_factory: Callable[..., Editor], tmp_path: Path
) -> None:
    from tests.fakes.server import Reply

    with OllamaFake(tokens=["ok"]) as fake:
        fake.override("/api/tags", Reply(200, "application/json", [], hang=True))
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20})
        ed.edit(tmp_path / "a.py", "")
        ed.type("ix")
        ed.wait(lambda: len(fake.recorded("/api/tags")) == 1, message="first check hangs")
        ed.type("y")
        assert ed.wait_suggestion(timeout=5) == "ok"  # not after the 60 s read timeout
        assert fake.wait_for(lambda: fake.recorded("/api/tags")[0].disconnected_at is not None)
