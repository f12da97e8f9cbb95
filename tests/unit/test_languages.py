from __future__ import annotations

import pytest

from llama_coder.core.languages import LANGUAGES, detect_language


def test_at_least_fifty_languages_with_unique_filetypes() -> None:
    assert len(LANGUAGES) >= 50
    filetypes = [ft for lang in LANGUAGES for ft in lang.filetypes]
    assert len(filetypes) == len(set(filetypes))


@pytest.mark.parametrize(
    ("filetype", "path", "name"),
    [
        ("python", "x.txt", "Python"),  # filetype wins over extension
        ("", "src/app.tsx", "TypeScript React"),
        ("", "lib/mod.mjs", "JavaScript"),
        ("", "lib/mod.cjs", "JavaScript"),
        ("", "Makefile", "Makefile"),
        ("", "sub/Dockerfile", "Dockerfile"),
        ("", "Dockerfile.dev", "Dockerfile"),
        ("", "CMakeLists.txt", "CMake"),
        ("", "main.RS", "Rust"),
        ("javascript.jsx", "", "JavaScript"),
        ("cpp", "", "C++"),
        ("", "index.html", "HTML"),
    ],
)
def test_detection(filetype: str, path: str, name: str) -> None:
    lang = detect_language(filetype, path)
    assert lang is not None and lang.name == name


def test_unknown_is_none() -> None:
    assert detect_language("", "notes") is None
    assert detect_language("weird", "x.zzz") is None


def test_comment_syntax() -> None:
    html = detect_language("html", "")
    css = detect_language("css", "")
    py = detect_language("python", "")
    json = detect_language("json", "")
    assert html and css and py and json
    assert html.comment("Path: a") == "<!-- Path: a -->"
    assert css.comment("Path: a") == "/* Path: a */"
    assert py.comment("Path: a") == "# Path: a"
    assert json.comment("Path: a") is None
    xml = detect_language("xml", "")
    assert xml and xml.block_comment == ("<!--", "-->")
