""":LlamaCoderStats and require('llama_coder').stats(): counts from a scripted session,
the window, totals across Neovims, and a stats file that cannot be used."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake

SERVER = "ollama qwen2.5-coder:1.5b-base"


def settle(editor: Editor) -> None:
    editor.nvim.eval("1")


def new_suggestion(editor: Editor, keys: str = "<CR>") -> None:
    editor.type(keys)
    editor.wait_suggestion()


def session(editor: Editor, tmp_path: Path) -> None:
    """Four suggestions: accepted whole, a word then the rest by lines, dismissed, typed over."""
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.type("Go    ")
    editor.wait_suggestion()
    editor.type("<Tab>")  # whole
    settle(editor)
    new_suggestion(editor)
    editor.type("<C-Right>")  # a word, then a line
    settle(editor)
    editor.type("<C-Down>")
    settle(editor)
    new_suggestion(editor)
    editor.type("<C-]>")  # dismissed
    settle(editor)
    new_suggestion(editor, "<CR>")
    editor.type("z")  # typed over
    settle(editor)


def session_numbers(editor: Editor) -> dict[str, Any]:
    numbers = editor.lua("return require('llama_coder').stats()")
    return dict(numbers["session"][SERVER])


def test_a_scripted_session_is_counted(editor: Editor, ollama: OllamaFake,
                                       tmp_path: Path) -> None:
    ollama.tokens = ["return x\n", "    pass"]
    session(editor, tmp_path)
    s = session_numbers(editor)
    assert s["shown"] >= 4
    assert (s["accept_whole"], s["accept_word"], s["accept_line"]) == (1, 1, 1)
    assert s["accepted"] == 2  # two suggestions of which something was taken
    assert s["dismissed"] == 1 and s["typed_over"] >= 1
    assert s["ghost_p50_ms"] is not None and sum(s["ghost_histogram"]) == s["shown"]
    assert 0 < s["acceptance"] <= 1


def test_the_window_shows_the_table_and_q_closes_it(editor: Editor, tmp_path: Path) -> None:
    session(editor, tmp_path)
    editor.type("<Esc>")
    editor.nvim.command("LlamaCoderStats")
    text = "\n".join(editor.nvim.current.buffer[:])
    assert SERVER in text and "acceptance rate" in text and "time to ghost" in text
    assert "█" in text  # the histogram's bars
    assert editor.nvim.api.win_get_config(0)["relative"] == "editor"
    editor.type("q")
    settle(editor)
    assert editor.nvim.api.win_get_config(0)["relative"] == ""


def test_totals_add_up_across_two_neovims(editor_factory: Callable[..., Editor],
                                          ollama: OllamaFake, tmp_path: Path) -> None:
    home = Path(tempfile.mkdtemp(prefix="llama-coder-stats-"))
    opts = {"backend": "ollama", "endpoint": ollama.url, "delay": 30, "prefetch": False}
    try:
        first = Editor(opts, home=home)
        session(first, tmp_path)
        shown = session_numbers(first)["shown"]
        first.close(keep_home=True)  # quitting saves this session's numbers
        saved = (home / "state" / "nvim" / "llama-coder" / "stats.json").read_text()
        assert "def f" not in saved and "return" not in saved  # numbers, never code
        second = editor_factory(opts, home=home)
        total = second.lua("return require('llama_coder').stats().total")
        assert total[SERVER]["shown"] == shown
        second.nvim.command("LlamaCoderStats reset")
        assert not second.lua("return require('llama_coder').stats().total")  # {} or []
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_an_unusable_stats_file_gives_one_message_and_loses_nothing(
        editor: Editor, tmp_path: Path) -> None:
    folder = editor.home / "state" / "nvim" / "llama-coder"
    folder.mkdir(parents=True)
    (folder / "stats.json").write_text("{not json")
    session(editor, tmp_path)
    editor.type("<Esc>")
    editor.nvim.command("LlamaCoderStats")
    editor.type("q")
    editor.nvim.command("LlamaCoderStats")
    assert editor.messages().count("stats file") == 1
    assert session_numbers(editor)["shown"] >= 4  # this session's numbers are kept
    assert editor.lua("return require('llama_coder.stats').save()") is False
    assert (folder / "stats.json").read_text() == "{not json"  # left as it was
