from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake


def test_typing_shows_ghost_text(editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.type("Go    ")
    assert editor.wait_suggestion() == "return x + 1"
