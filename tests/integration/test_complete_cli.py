"""llama-coder-complete FILE:LINE:COL against a protocol fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_coder.complete import main
from tests.fakes.backends import OllamaFake


def test_streams_one_suggestion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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


def test_bad_location_and_unreachable_server(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nowhere"]) == 2
    assert "expected FILE:LINE:COL" in capsys.readouterr().err
    source = tmp_path / "a.py"
    source.write_text("x = 1\n", encoding="utf-8")
    with OllamaFake() as fake:
        url = fake.url
    assert main([f"{source}:1:1", "--endpoint", url]) == 1
    assert "cannot reach" in capsys.readouterr().err
