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
