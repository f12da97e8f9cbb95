"""Issue 15: a suggestion that runs on into the lines after the cursor, in the editor."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake


def test_ghost_text_leaves_out_the_lines_that_already_follow(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    # The model writes the missing line, then the function's last line again, and
    # stops inside the next one.
    ollama.tokens = ["y = x * 2\n", "    return x + y\n", "\n", "print(f(", "1"]
    editor.edit(tmp_path / "a.py", "def f(x):\n    return x + y\n\nprint(f(1))\n")
    editor.type("o    ")
    assert editor.wait_suggestion() == "y = x * 2"
    editor.lua("require('llama_coder').accept()")
    assert editor.lines() == ["def f(x):", "    y = x * 2", "    return x + y", "",
                              "print(f(1))"]
