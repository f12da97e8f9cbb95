"""Real-world edges in the editor: keys in batches, odd setup tables, streaming while
typing through, multi-line ghosts mid-line, several windows on one buffer."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import Editor
from tests.e2e.soak import engine_processes
from tests.fakes.backends import OllamaFake


def show(editor: Editor, tmp_path: Path, text: str = "def f(x):\n") -> str:
    """A suggestion for the end of a new indented line."""
    editor.edit(tmp_path / "a.py", text)
    editor.type("Go    ")
    return editor.wait_suggestion()


def settle(editor: Editor) -> None:
    editor.nvim.eval("1")  # answered once the typeahead before it was handled


# --- keys in one batch: every action checks the suggestion is still at its place ------

def test_a_key_typed_before_tab_in_one_batch_makes_tab_a_tab(editor: Editor,
                                                               tmp_path: Path) -> None:
    assert show(editor, tmp_path) == "return x + 1"
    editor.type("z<Tab>")  # one input call: no autocmd runs between the two keys
    settle(editor)
    line = editor.lines()[1]
    assert line.startswith("    z") and line[5:] and not line[5:].strip()  # a Tab's indent
    assert editor.suggestion() is None


def test_typing_through_in_one_batch_then_tab_accepts_the_rest(editor: Editor,
                                                               tmp_path: Path) -> None:
    show(editor, tmp_path)
    editor.type("ret<Tab>")
    settle(editor)
    assert editor.lines()[1] == "    return x + 1"


def test_two_word_accepts_in_one_batch_take_two_words(editor: Editor, ollama: OllamaFake,
                                                      tmp_path: Path) -> None:
    ollama.tokens = ["return x\n", "    pass"]
    show(editor, tmp_path)
    editor.type("<C-Right><C-Right>")
    settle(editor)
    assert editor.lines()[1] == "    return x"
    assert editor.suggestion() == "\n    pass"


def test_a_cycling_key_after_a_typed_key_asks_for_nothing(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "prefetch": False, "keymap": {"next": "<F5>"}})
    show(ed, tmp_path)
    asked = len(ollama.completions())
    ed.type("z<F5>")
    settle(ed)
    assert ed.lines()[1] == "    z<F5>"  # what an unmapped <F5> does in Insert mode
    assert ed.status() == "idle"  # no '1/…': no alternatives were asked for
    ed.wait(lambda: not ed.lua("return require('llama_coder.trigger').busy()"),
            message="the request for the new place")
    assert all("seed" not in (r.body.get("options") or {})
               for r in ollama.completions()[asked:])


# --- setup() tables that cannot travel to the engine ---------------------------------

ODD = """
local endpoint = ...
require('llama_coder').setup({
  backend = 'ollama', endpoint = endpoint, delay = 30, prefetch = false,
  filetypes = { 'python', markdown = false },
  on_accept = function() end,
})
"""


def test_a_mixed_table_and_a_function_are_dropped_with_one_message_each(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": "http://127.0.0.1:9", "delay": 30})
    ed.lua(ODD, ollama.url)
    messages = ed.messages()
    assert "filetypes mixes list items with key = value entries" in messages
    assert "on_accept is a function" in messages
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    for keys in ("Go", "    r", "e", "t"):
        ed.type(keys)
        settle(ed)
    # The engine runs on the endpoint given with the odd values, not on defaults.
    assert ed.wait_suggestion() == "return x + 1"
    assert ollama.completions()
    assert engine_processes(ed) == 1


def test_setup_again_with_another_accept_key_gives_tab_back(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory(None)  # the plugin is set up below, after the user's own mapping
    ed.nvim.command("inoremap <Tab> TAB")
    ed.lua("require('llama_coder').setup({ backend = 'ollama', endpoint = ..., delay = 30 })",
           ollama.url)
    assert "llama-coder" in ed.nvim.call("maparg", "<Tab>", "i", False, True)["desc"]
    ed.lua("require('llama_coder').setup({ backend = 'ollama', endpoint = ..., delay = 30,"
           " keymap = { accept = '<C-l>' } })", ollama.url)
    assert ed.nvim.call("maparg", "<Tab>", "i") == "TAB"
    assert "llama-coder" in ed.nvim.call("maparg", "<C-l>", "i", False, True)["desc"]


# --- ui.show_while_streaming and typing through --------------------------------------

def test_typing_through_a_streaming_suggestion_keeps_it_growing(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["one", " two", " three", " four"], delay=0.2) as fake:
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20,
                             "ui": {"show_while_streaming": True}})
        ed.edit(tmp_path / "a.py", "")
        ed.type("ix = ")
        ed.wait(lambda: (ed.suggestion() or "").startswith("one"), message="a partial")
        ed.type("o")
        ed.wait(lambda: ed.suggestion() == "ne two three four",
                message="later parts and the final text, trimmed by what was typed")
        assert ed.lines() == ["x = o"]


# --- what is drawn is what accept inserts ---------------------------------------------

def test_multiline_ghost_mid_line_shows_the_rest_of_the_line_after_its_last_line(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.tokens = ["a,\n", "    b"]
    editor.nvim.command("set noautoindent")
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.type("Go    print()<Left>")
    assert editor.wait_suggestion() == "a,\n    b"
    details = editor.extmarks()[0][3]
    assert details["virt_text_pos"] == "overlay"  # covers ")" on the cursor line
    assert details["virt_text"][0][0].rstrip() == "a,"
    assert details["virt_lines"] == [[["    b", "LlamaCoderSuggestion"], [")", "Normal"]]]
    editor.type("<Tab>")
    settle(editor)
    assert editor.lines()[1:] == ["    print(a,", "    b)"]


# --- one window only -----------------------------------------------------------------

SCREEN = """
local out = {}
for row = 1, vim.o.lines do
  local line = ''
  for col = 1, vim.o.columns do
    line = line .. vim.fn.screenstring(row, col)
  end
  out[#out + 1] = line
end
return out
"""


def test_ghost_text_shows_only_in_the_window_the_user_types_in(editor: Editor,
                                                               tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.nvim.command("split")  # two windows on the buffer; the cursor is in the top one
    editor.type("Go    ")
    editor.wait_suggestion()
    editor.nvim.command("redraw")
    screen = [line.rstrip() for line in editor.lua(SCREEN)]
    assert screen.count("    return x + 1") == 1, screen
    top_window_rows = editor.nvim.current.window.height
    assert "    return x + 1" in screen[:top_window_rows]


# --- one validator per key -----------------------------------------------------------

def test_a_bad_lua_key_is_reported_once_and_keeps_its_default(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": "soon",
                         "filetypes": {"help": "no"}})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    assert ed.wait_suggestion() == "return x + 1"  # the default delay works
    messages = ed.messages()
    assert messages.count("delay must be an integer") == 1
    assert messages.count("filetypes must be a table of filetype = true/false") == 1
    # The engine did not report them again.
    assert "delay" not in ed.log_text()
    ed.type("<Esc>")
    ed.edit(tmp_path / "b.txt", "", filetype="help")
    ed.nvim.command("setlocal buftype= modifiable")
    assert ed.status() == "off"  # suggestions stay off in help, as by default


# --- line by line (ui.line_by_line, the default) ---------------------------------------

def test_the_first_line_shows_before_the_rest_has_streamed_in(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["y = x\n", "    z = y\n", "    return z"]) as fake:
        fake.token_delays = {1: 1.0, 2: 1.0}  # the second and third lines come slowly
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20,
                             "prefetch": False})
        ed.edit(tmp_path / "a.py", "def f(x):\n")
        ed.type("Go    ")
        ed.wait(lambda: ed.suggestion() == "y = x", message="the first line alone")
        assert fake.completions()[-1].finished_at is None  # still streaming
        seen: list[str] = []
        ed.wait(lambda: seen.append(ed.suggestion() or "") or
                seen[-1] == "y = x\n    z = y\n    return z", message="the whole")
        # Every state on screen started with the one before: no line was replaced.
        for earlier, later in itertools.pairwise(seen):
            assert later.startswith(earlier), (earlier, later)


def test_the_rest_of_a_block_is_asked_for_only_if_the_first_line_stays(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    """ui.rest_after: a block's first line comes from a request cut once it is in; the
    rest from a second request that goes on from it, once the line has stayed on screen
    for ui.rest_after ms. Typing on before then costs the server nothing more."""
    with OllamaFake(tokens=["y = x\n", "    return y"], delay=0.05) as fake:
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20,
                             "prefetch": False, "ui": {"rest_after": 1500}})
        ed.edit(tmp_path / "a.py", "def f(x):\n")
        ed.type("Go    ")
        ed.wait(lambda: ed.suggestion() == "y = x", message="the first line")
        ed.type("q")  # not what the line says: the suggestion goes, and its rest
        ed.wait(lambda: len(fake.completions()) == 2, message="the request for 'q'")
        ed.type("<Esc>")
        # Staying on a first line: the rest comes, and accepting takes the whole.
        ed.nvim.command("normal! Go")
        ed.type("<Esc>S    ")
        ed.wait(lambda: ed.suggestion() == "y = x\n    return y", timeout=10,
                message="the rest after the first line stayed")
        ed.type("<Tab>")
        ed.wait(lambda: ed.lines()[-2:] == ["    y = x", "    return y"], message="accepted")
        # The first suggestion's rest would have been asked for 1.5 s after its line,
        # before this one's: only this one's was.
        rests = [r for r in fake.completions() if r.body["prompt"].endswith("y = x\n")]
        assert len(rests) == 1 and rests[0] is fake.completions()[-1]


def test_accepting_while_it_grows_takes_what_is_shown_and_stops_the_rest(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["y = x\n", "    return y"]) as fake:
        fake.token_delays = {1: 30.0}
        ed = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 20,
                             "prefetch": False})
        ed.edit(tmp_path / "a.py", "def f(x):\n")
        ed.type("Go    ")
        ed.wait(lambda: ed.suggestion() == "y = x", message="the first line")
        ed.type("<Tab>")
        ed.wait(lambda: ed.lines()[1] == "    y = x", message="accepted")
        assert fake.wait_for(lambda: fake.completions()[-1].disconnected_at is not None)
        assert ed.lines() == ["def f(x):", "    y = x"]
