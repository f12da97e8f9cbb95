"""Issue 7 features in a real Neovim: prefetch, stats."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake


def start_line(editor: Editor, tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "def f(x):\n")
    editor.type("Go    ")


# --- speculative prefetch -------------------------------------------------------------

def test_accepting_shows_the_prefetched_next_suggestion_without_a_request(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30})
    start_line(editor, tmp_path)
    assert editor.wait_suggestion() == "return x + 1"
    # The prefetch asks for the place after the suggestion, as if it were accepted.
    assert ollama.wait_for(lambda: len(ollama.completions()) == 2)
    prefetch = ollama.completions()[1].body["prompt"]
    assert "def f(x):\n    return x + 1<|fim_suffix|>" in prefetch
    assert ollama.wait_for(lambda: ollama.completions()[1].finished_at is not None)
    editor.type("<Tab>")
    editor.wait(lambda: editor.lines()[1] == "    return x + 1", message="accepted")
    editor.wait(lambda: editor.suggestion() is not None, message="the next suggestion")
    assert len(ollama.completions()) == 3  # no request for it; the third is its prefetch
    stats = editor.lua("return require('llama_coder.trigger').last_result.stats")
    assert stats["cached"] is True


def test_a_real_request_for_the_same_place_waits_for_the_prefetch(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["ret", "urn x", " + 1"], delay=0.3) as slow:
        editor = editor_factory({"backend": "ollama", "endpoint": slow.url, "delay": 10})
        start_line(editor, tmp_path)
        assert editor.wait_suggestion(timeout=10) == "return x + 1"
        assert slow.wait_for(lambda: len(slow.completions()) == 2)
        editor.type("<Tab>")  # accepted while the prefetch is still streaming
        editor.wait(lambda: editor.suggestion() is not None, message="the next suggestion")
        second = slow.completions()[1]
        assert second.disconnected_at is None and second.finished_at is not None
        # One request for the accepted place: the prefetch's; the third is the next one.
        assert all("+ 1return" not in r.body["prompt"] for r in slow.completions()[:2])


def test_typing_something_else_cancels_the_prefetch(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["ret", "urn x", " + 1"], delay=0.3) as slow:
        editor = editor_factory({"backend": "ollama", "endpoint": slow.url, "delay": 10})
        start_line(editor, tmp_path)
        editor.wait_suggestion(timeout=10)
        assert slow.wait_for(lambda: len(slow.completions()) == 2)
        editor.type("z")  # not the suggestion's next character
        assert slow.wait_for(lambda: slow.completions()[1].disconnected_at is not None, 5)


def test_prefetch_can_be_turned_off(editor_factory: Callable[..., Editor], ollama: OllamaFake,
                                    tmp_path: Path) -> None:
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 10,
                             "prefetch": False})
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<Tab>")
    editor.wait(lambda: editor.suggestion() is not None, message="the next suggestion")
    assert len(ollama.completions()) == 2  # asked for only when needed


# --- stats ------------------------------------------------------------------------------

def test_timings_in_status_and_statusline(editor_factory: Callable[..., Editor],
                                          ollama: OllamaFake, tmp_path: Path) -> None:
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 10,
                             "ui": {"show_info": True}, "prefetch": False})
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    status = "\n".join(editor.lua("return require('llama_coder').status_lines()"))
    assert "  last      " in status and "3 tok generated" in status
    assert "by ollama qwen2.5-coder" in status
    editor.wait(lambda: editor.status().startswith("idle ") and "ms" in editor.status(),
                message="timings in status()")
    editor.type("z")
    editor.wait(lambda: len(ollama.completions()) == 2, message="a request for z")
    editor.wait_suggestion()
    editor.type("<BS>")  # back to a place already asked for: a cache hit
    editor.wait(lambda: editor.status().endswith("cached"), message="'cached' in status()")


# --- persistent cache -------------------------------------------------------------------

def test_reopening_a_file_shows_the_suggestion_from_disk(ollama: OllamaFake,
                                                         tmp_path: Path) -> None:
    opts = {"backend": "ollama", "endpoint": ollama.url, "delay": 10, "prefetch": False,
            "cache": {"disk": True}}
    first = Editor(opts)
    try:
        start_line(first, tmp_path)
        assert first.wait_suggestion() == "return x + 1"
        db = first.home / "cache" / "nvim" / "llama-coder" / "suggestions.sqlite3"
        first.wait(lambda: _rows(db) == 1, message="the suggestion on disk")
    finally:
        first.close(keep_home=True)
    assert len(ollama.completions()) == 1
    again = Editor(opts, home=first.home)  # a new Neovim, same user
    try:
        start_line(again, tmp_path)
        assert again.wait_suggestion() == "return x + 1"
        assert len(ollama.completions()) == 1  # from disk, not from the server
        assert again.lua("return require('llama_coder.trigger').last_result.stats.cached")
    finally:
        again.close()


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM suggestions").fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_without_cache_disk_nothing_is_written(editor: Editor, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    assert not (editor.home / "cache" / "nvim" / "llama-coder").exists()
