"""In a doc comment or docstring a suggestion is one line of text (core/place.py)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake

# What a small model streams in a docstring: prose that runs on for many lines.
PROSE = ["The cache", " keeps the newest", " entries.\n", "It is bounded", " by size.\n",
         *["More prose.\n"] * 20]


def test_an_empty_line_in_a_docstring_asks_for_one_line(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.tokens = PROSE
    editor.edit(tmp_path / "a.py", 'def f():\n    """\n    Summary.\n')
    editor.type("Go    ")
    assert editor.wait_suggestion() == "The cache keeps the newest entries."
    stream = ollama.completions()[-1]
    assert stream.body["options"]["stop"][0] == "\n"  # the server stops at the line's end


def test_the_end_of_a_docstring_line_gets_its_rest_or_the_next_line_only(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.tokens = ["\n", *PROSE]
    ollama.delay = 0.01
    editor.edit(tmp_path / "a.py", '"""A module.\n\nIt holds the cache')
    editor.type("GA")
    # The line the suggestion goes on to, and no further; the stream ends there.
    assert editor.wait_suggestion() == "\nThe cache keeps the newest entries."
    stream = ollama.completions()[-1]
    assert "\n" not in stream.body["options"]["stop"]
    editor.wait(lambda: stream.disconnected_at is not None, message="the stream closed")
    assert stream.pieces_sent < len(ollama.tokens)


def test_code_after_the_docstring_gets_a_block(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    ollama.tokens = ["x = 1\n", "y = 2\n"]
    editor.edit(tmp_path / "a.py", '"""A module."""\n')
    editor.type("Go")
    assert editor.wait_suggestion() == "x = 1\ny = 2"
