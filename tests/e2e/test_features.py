"""Issue 7 features in a real Neovim: prefetch, stats."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import LlamaCppFake, OllamaFake
from tests.fakes.server import Piece, Reply


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
    assert len(ollama.completions()) == 2  # no request for it
    assert ollama.wait_for(lambda: len(ollama.completions()) == 3)  # and the next prefetch
    stats = editor.lua("return require('llama_coder.suggestion').last_result.stats")
    assert stats["cached"] is True and stats["prefetched"] is True
    counted = editor.lua("return require('llama_coder').stats().session")
    assert counted["ollama qwen2.5-coder:1.5b-base"]["prefetch_hits"] == 1


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
        assert again.lua("return require('llama_coder.suggestion').last_result.stats.cached")
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


# --- context from other buffers ---------------------------------------------------------

OTHER = "def helper_alpha(v):\n    return v * 2\n\n\ndef helper_beta(v):\n    return v + 3\n"


def test_an_entered_buffer_reaches_the_prompt_in_qwen_repo_format(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    editor.edit(tmp_path / "other.py", OTHER)  # entered before the engine even runs
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    prompt = ollama.completions()[-1].body["prompt"]
    assert prompt.startswith("<|repo_name|>")  # the name of Neovim's directory
    assert "\n<|file_sep|>other.py\ndef helper_alpha(v):\n" in prompt
    assert "<|file_sep|>a.py\n<|fim_prefix|>" in prompt  # the current file last
    assert prompt.count("<|file_sep|>") == 2  # a.py itself is not sent as context


def test_yanked_text_reaches_llamacpp_as_input_extra(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["x"]) as fake:
        editor = editor_factory({"backend": "llamacpp", "endpoint": fake.url, "delay": 10,
                                 "prefetch": False})
        start_line(editor, tmp_path)
        editor.wait_suggestion()
        editor.type("<Esc>")
        (tmp_path / "lib.py").write_text("# lib\n" * 40 + "def yanked_one():\n    return 1\n"
                                         "def yanked_two():\n    return 2\n")
        editor.nvim.command(f"edit {tmp_path / 'lib.py'}")
        editor.type("41GV3jy")  # a yank far from the cursor's chunk
        editor.nvim.command(f"buffer {tmp_path / 'a.py'}")
        editor.type("Go    z")
        editor.wait(lambda: any("yanked_two" in json.dumps(r.body.get("input_extra"))
                                for r in fake.completions()), message="the yank in input_extra")
        extra = fake.completions()[-1].body["input_extra"]
        assert all(chunk["filename"] != "a.py" for chunk in extra)  # never the file itself


def test_extra_context_can_be_turned_off(editor_factory: Callable[..., Editor],
                                         ollama: OllamaFake, tmp_path: Path) -> None:
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 10,
                             "prefetch": False, "context": {"extra_chars": 0}})
    editor.edit(tmp_path / "other.py", OTHER)
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    assert ollama.completions()[-1].body["prompt"].startswith("<|fim_prefix|>")


# --- routing and fallback ---------------------------------------------------------------

def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_route_per_filetype(editor_factory: Callable[..., Editor], ollama: OllamaFake,
                              tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["local"]) as lua_server:
        editor = editor_factory({
            "backend": "ollama", "endpoint": ollama.url, "delay": 10, "prefetch": False,
            "routes": {"lua": {"backend": "llamacpp", "endpoint": lua_server.url}},
        })
        start_line(editor, tmp_path)
        assert editor.wait_suggestion() == "return x + 1"
        editor.type("<Esc>")
        editor.edit(tmp_path / "b.lua", "local function f(x)\n")
        editor.type("Go  ")
        assert editor.wait_suggestion() == "local"
        assert len(ollama.completions()) == 1 and len(lua_server.completions()) == 1
        status = "\n".join(editor.lua("return require('llama_coder').status_lines()"))
        assert "answered  routes.lua (llamacpp" in status
        assert editor.status() == "idle via routes.lua"


def test_fallback_answers_while_the_primary_is_down_and_the_primary_comes_back(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    editor = editor_factory({
        "backend": "ollama", "endpoint": f"http://127.0.0.1:{port}", "delay": 10,
        "prefetch": False, "fallback_retry": 0,
        "fallback": [{"backend": "ollama", "endpoint": ollama.url}],
    })
    start_line(editor, tmp_path)
    assert editor.wait_suggestion() == "return x + 1"  # from the fallback
    editor.wait(lambda: editor.status() == "idle via fallback[1]", message="status names it")
    assert "error" not in editor.messages().lower()  # a fallback answered: nothing to report
    with OllamaFake(tokens=["back"], port=port) as primary:
        editor.type("z")
        assert editor.wait_suggestion() == "back"  # the recovered primary is used again
        assert len(primary.completions()) == 1
        editor.wait(lambda: editor.status() == "idle", message="no 'via' any more")


def test_without_a_fallback_the_error_is_reported(editor_factory: Callable[..., Editor],
                                                  tmp_path: Path) -> None:
    port = free_port()
    editor = editor_factory({"backend": "ollama", "endpoint": f"http://127.0.0.1:{port}",
                             "delay": 10, "prefetch": False})
    start_line(editor, tmp_path)
    editor.wait(lambda: editor.status().startswith("error"), message="the error in status()")


# --- alternatives -----------------------------------------------------------------------

def ollama_reply(text: str) -> Reply:
    lines = [{"model": "m", "response": text, "done": False},
             {"model": "m", "response": "", "done": True, "done_reason": "stop"}]
    return Reply(200, "application/x-ndjson",
                 [Piece(json.dumps(line).encode() + b"\n") for line in lines])


def test_cycling_through_alternatives(editor_factory: Callable[..., Editor],
                                      ollama: OllamaFake, tmp_path: Path) -> None:
    editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 10,
                             "prefetch": False})
    start_line(editor, tmp_path)
    assert editor.wait_suggestion() == "return x + 1"
    ollama.override("/api/generate", ollama_reply("return x - 1"), ollama_reply("return 0"))
    editor.type("<M-]>")
    editor.wait(lambda: editor.suggestion() == "return x - 1", message="the second one")
    editor.wait(lambda: editor.status() == "idle 2/3", message="2/3 in status()")
    variant = ollama.completions()[1].body["options"]
    assert variant["seed"] == 1 and variant["temperature"] == 0.8
    for key, text, position in (("<M-]>", "return 0", "3/3"), ("<M-]>", "return x + 1", "1/3"),
                                ("<M-[>", "return 0", "3/3")):
        editor.type(key)
        editor.wait(lambda t=text, p=position: editor.suggestion() == t  # type: ignore[misc]
                    and editor.status() == f"idle {p}", message=f"{text} at {position}")
    assert len(ollama.completions()) == 3  # cycling again asks for nothing
    editor.type("<Tab>")
    editor.wait(lambda: editor.lines()[1] == "    return 0", message="the shown one accepted")
    editor.wait(lambda: "/" not in editor.status(), message="the count gone with the change")


def test_next_without_a_suggestion_keeps_the_key(editor: Editor, tmp_path: Path) -> None:
    editor.edit(tmp_path / "a.py", "")
    editor.nvim.command("inoremap <M-]> X")  # the user's own mapping, before setup()
    editor.lua("require('llama_coder').setup(vim.json.decode(vim.env.LLAMA_CODER_OPTS))")
    editor.type("i<M-]>")
    editor.wait(lambda: editor.lines() == ["X"], message="the earlier mapping ran")


def test_alternatives_compare_the_fallback_servers_answer(
        editor_factory: Callable[..., Editor], ollama: OllamaFake, tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["return None"]) as other:
        editor = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 10,
                                 "prefetch": False, "alternatives": 2,
                                 "fallback": [{"backend": "llamacpp", "endpoint": other.url}]})
        start_line(editor, tmp_path)
        assert editor.wait_suggestion() == "return x + 1"  # the primary's
        editor.type("<M-]>")
        editor.wait(lambda: editor.suggestion() == "return None", message="the fallback's")
        editor.wait(lambda: editor.status() == "idle 2/2", message="2/2")
        assert len(other.completions()) == 1 and len(ollama.completions()) == 1


def test_a_written_buffer_reaches_the_prompt_as_comments(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with OllamaFake(tokens=["x"], models=["codellama:7b-code"]) as fake:
        editor = editor_factory({"backend": "ollama", "endpoint": fake.url, "delay": 10,
                                 "prefetch": False, "model": "codellama:7b-code"})
        start_line(editor, tmp_path)  # the engine runs from here on
        editor.wait_suggestion()
        editor.type("<Esc>")
        editor.edit(tmp_path / "notes.py", "")
        editor.type("iSECRET_SAUCE = 1<CR>PEPPER = 2<CR>SALT = 3<Esc>")
        editor.nvim.command("write")
        editor.nvim.command(f"buffer {tmp_path / 'a.py'}")
        editor.type("Go    z")
        editor.wait(lambda: "# SECRET_SAUCE = 1" in fake.completions()[-1].body["prompt"],
                    message="the written buffer as comments")
        prompt = fake.completions()[-1].body["prompt"]
        assert prompt.startswith("<PRE> # From notes.py:\n")


# --- the keystroke path: cursor moves ---------------------------------------------------

def test_a_cursor_move_hides_the_suggestion_and_asks_for_the_new_place(
        editor: Editor, ollama: OllamaFake, tmp_path: Path) -> None:
    start_line(editor, tmp_path)
    editor.wait_suggestion()
    editor.type("<Left>")  # no text change: only CursorMovedI sees it
    editor.wait(lambda: editor.suggestion() is None or len(ollama.completions()) == 2,
                message="the ghost gone")
    editor.wait(lambda: len(ollama.completions()) == 2, message="a request for the new place")
    assert ollama.completions()[1].body["prompt"].endswith("\n   <|fim_suffix|> <|fim_middle|>")
    # While typing (debounce running, no ghost), a move is read when the timer fires.
    editor.type("<End>z<Left>")
    editor.wait(lambda: len(ollama.completions()) == 3, message="one request after typing")
    assert ollama.completions()[2].body["prompt"].endswith("\n    <|fim_suffix|>z<|fim_middle|>")
