"""llama-coder-complete FILE:LINE:COL against a protocol fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.llama_server import free_port
from llama_coder.complete import main
from llama_coder.core import detection
from tests.fakes.backends import LlamaCppFake, OllamaFake


@pytest.fixture(autouse=True)
def no_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """backend = 'auto' (the default) looks at closed ports, not this machine's defaults."""
    monkeypatch.setattr(detection, "DEFAULT_CANDIDATES",
                        tuple(f"http://127.0.0.1:{free_port()}" for _ in range(4)))


def test_prints_one_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "geo.py"
    source.write_text("import math\n\n\ndef area(r):\n    return \n", encoding="utf-8")
    with OllamaFake(tokens=["math.pi", " * r", " ** 2"]) as fake:
        code = main([f"{source}:5:12", "--endpoint", fake.url])
        prompt = fake.completions()[0].body["prompt"]
    assert code == 0
    assert capsys.readouterr().out == "math.pi * r ** 2\n"
    # The file's final newline ends its last line, as in Neovim: no empty line after it,
    # so the prompt is the one the editor would send for the same place.
    assert prompt.endswith("def area(r):\n    return <|fim_suffix|><|fim_middle|>")


def test_stdout_is_the_suggestion_after_post_processing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The model repeats the `;` already after the cursor: the editor shows `1`, and so
    does stdout; the text as it streamed (`1;`) goes to stderr with --verbose."""
    source = tmp_path / "a.c"
    source.write_text("int x = ;\n", encoding="utf-8")
    with OllamaFake(tokens=["1", ";"]) as fake:
        assert main([f"{source}:1:9", "--endpoint", fake.url, "--verbose"]) == 0
    out, err = capsys.readouterr()
    assert out == "1\n"
    assert "--- streamed (before post-processing):\n1;\n" in err


def test_nothing_worth_showing_prints_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.py"
    source.write_text("def f():\n    \n    return 1\n", encoding="utf-8")
    with OllamaFake(tokens=["return 1\n"]) as fake:  # only repeats the next line
        assert main([f"{source}:2:5", "--backend", "ollama", "--endpoint", fake.url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "llama-coder: the model's answer left nothing worth showing here\n"


def test_every_message_names_the_plugin_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.py"
    source.write_text("x = 1\n", encoding="utf-8")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"max_lines": 0}), encoding="utf-8")
    with OllamaFake() as fake:
        url = fake.url
    assert main([f"{source}:1:1", "--backend", "ollama", "--endpoint", url, "--config",
                 str(config)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("llama-coder: max_lines must be an integer >= 1, got 0")
    assert lines[-1].startswith("llama-coder: cannot reach ")
    for line in lines:
        assert line.startswith("llama-coder: ") and line.count("llama") == 1, line


def test_bad_location_and_unreachable_server(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nowhere"]) == 2
    assert capsys.readouterr().err == "llama-coder: expected FILE:LINE:COL, got 'nowhere'\n"
    source = tmp_path / "a.py"
    source.write_text("x = 1\n", encoding="utf-8")
    with OllamaFake() as fake:
        url = fake.url
    assert main([f"{source}:1:1", "--backend", "ollama", "--endpoint", url]) == 1
    assert "cannot reach" in capsys.readouterr().err


def test_auto_says_what_it_found_and_completes_with_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.py"
    source.write_text("x = \n", encoding="utf-8")
    with LlamaCppFake() as fake:
        assert main([f"{source}:1:5", "--endpoint", fake.url]) == 0
        assert fake.completions()  # the llama-server protocol, found from its answers
    out, err = capsys.readouterr()
    assert out == "x = 1\n"
    where = fake.url.removeprefix("http://")
    assert err == (f"llama-coder: llama-server at {where}, qwen2.5-coder-1.5b-q8_0, "
                   "format qwen\n")


def test_auto_with_nothing_there_says_why_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "a.py"
    source.write_text("x = 1\n", encoding="utf-8")
    port = free_port()
    assert main([f"{source}:1:1", "--endpoint", f"http://127.0.0.1:{port}"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"llama-coder: no server answered at 127.0.0.1:{port}, :")
    assert err.endswith("; start one, or set backend and endpoint\n")
