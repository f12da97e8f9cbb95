"""A suggestion whose line falls into a loop, in the editor (see core/stopper.py)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake


def test_a_looping_line_ends_the_suggestion_and_the_stream(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    # What SmolLM2-135M streamed: a line, then "-n" until max_tokens (256).
    ollama.tokens = ["total = 0\n", 'label = "', *["-n"] * 256]
    ollama.delay = 0.01
    editor.edit(tmp_path / "a.py", "import re\n")
    editor.type("o")
    assert editor.wait_suggestion() == "total = 0"  # the looping line goes whole
    stream = ollama.completions()[-1]
    editor.wait(lambda: stream.disconnected_at is not None, message="the stream closed")
    assert stream.pieces_sent < 100  # of 256 "-n"


def test_lines_said_again_and_again_are_shown_once_and_the_stream_ends(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    # What SmolLM2-135M streamed after a decorator: one class, again and again.
    group = ["class Request:\n", "    server: str\n", "    model: str\n",
             "@dataclass(frozen=True)\n"]
    ollama.tokens = group * 40
    ollama.delay = 0.01
    editor.edit(tmp_path / "a.py", "from dataclasses import dataclass\n\n@dataclass(frozen=True)")
    editor.type("Go")
    assert editor.wait_suggestion() == (
        "class Request:\n    server: str\n    model: str\n@dataclass(frozen=True)")
    stream = ollama.completions()[-1]
    editor.wait(lambda: stream.disconnected_at is not None, message="the stream closed")
    assert stream.pieces_sent < 20  # of 160
