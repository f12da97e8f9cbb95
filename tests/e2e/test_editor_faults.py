"""Editor-side trouble while a request streams: no error, no ghost in the wrong place,
no text change the user did not make (issue 6's editor list)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake

SLOW = 0.15  # seconds per token: the request is still streaming while we act


def streaming(editor: Editor, ollama: OllamaFake, tmp_path: Path, text: str = "x = 1\n"
              ) -> list[str]:
    ollama.delay = SLOW
    editor.edit(tmp_path / "a.py", text)
    editor.type("Go")
    editor.wait(lambda: len(ollama.completions()) == 1, message="request streaming")
    return editor.lines()


def settled_without_trouble(editor: Editor, ollama: OllamaFake) -> None:
    ollama.wait_for(lambda: all(r.finished_at or r.disconnected_at
                                for r in ollama.completions()), 5)
    editor.wait(lambda: not editor.lua("return require('llama_coder.trigger').busy()"),
                message="settled")
    messages = editor.messages()
    assert "Error" not in messages and "Traceback" not in messages, messages
    assert "error" not in editor.log_text().lower()


@pytest.mark.parametrize("action", [
    "<Esc>",                                 # leave Insert mode
    "<Esc>u",                                # and undo
    "<C-o>:enew<CR>",                        # switch buffers
    "<C-o>:split<CR>",                       # another window
])
def test_acting_while_a_request_streams(editor: Editor, ollama: OllamaFake, tmp_path: Path,
                                        action: str) -> None:
    streaming(editor, ollama, tmp_path)
    editor.type(action)
    settled_without_trouble(editor, ollama)
    for buf in editor.nvim.buffers:
        marks = editor.lua("return vim.api.nvim_buf_get_extmarks(..., "
                           "vim.api.nvim_create_namespace('llama_coder'), 0, -1, {})", buf.number)
        assert marks == [] or editor.mode() == "i"


def test_bwipeout_and_closed_window_while_streaming(editor: Editor, ollama: OllamaFake,
                                                    tmp_path: Path) -> None:
    streaming(editor, ollama, tmp_path)
    buf = editor.nvim.current.buffer.number
    editor.type("<Esc>")
    editor.nvim.command("split | enew | wincmd p | close")
    editor.nvim.command(f"bwipeout! {buf}")
    settled_without_trouble(editor, ollama)
    assert editor.nvim.current.buffer.number != buf


def test_no_text_changes_unless_accepted(editor: Editor, ollama: OllamaFake,
                                         tmp_path: Path) -> None:
    before = streaming(editor, ollama, tmp_path)
    editor.wait_suggestion()
    editor.type("<Esc>")
    settled_without_trouble(editor, ollama)
    assert editor.lines() == before


@pytest.mark.parametrize(("name", "text", "keys"), [
    ("empty", "", "i"),
    ("crlf", "a = 1\r\nb = 2\r\n", "Go"),
    ("multibyte", "ñandú = 'ü'\n名前 = '値'\nemoji = '😀'\n", "GA"),
    ("long_lines", ("y" * 20_000 + "\n") * 3, "GA"),
    ("start", "first\nsecond\n", "gg0i"),
])
def test_awkward_buffers_still_get_suggestions(editor: Editor, ollama: OllamaFake,
                                               tmp_path: Path, name: str, text: str,
                                               keys: str) -> None:
    path = tmp_path / f"{name}.py"
    path.write_bytes(text.encode())
    editor.nvim.command(f"cd {tmp_path} | edit {path}")
    editor.type(keys)
    editor.type("z")
    assert editor.wait_suggestion() == "ret" + "urn x" + " + 1"
    settled_without_trouble(editor, ollama)


def test_five_megabyte_file(editor_factory: Callable[..., Editor], ollama: OllamaFake,
                            tmp_path: Path) -> None:
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30})
    path = tmp_path / "big.py"
    path.write_text("".join(f"value_{i} = compute({i})  # {'x' * 20}\n"
                            for i in range(120_000)))
    assert path.stat().st_size > 5_000_000
    ed.nvim.command(f"cd {tmp_path} | edit {path}")
    ed.nvim.command("normal! 60000G")
    ed.type("oz")
    assert ed.wait_suggestion() == "return x + 1"
    body = ollama.completions()[-1].body["prompt"]
    assert len(body) < 10_000  # the prompt stays bounded
