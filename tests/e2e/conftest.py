from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake(tokens=["ret", "urn x", " + 1"]) as fake:
        yield fake


@pytest.fixture
def editor_factory(tmp_path: Any) -> Iterator[Callable[..., Editor]]:
    editors: list[Editor] = []

    def make(opts: dict[str, Any], **kw: Any) -> Editor:
        editor = Editor(opts, **kw)
        editors.append(editor)
        return editor

    yield make
    for editor in editors:
        editor.close()


@pytest.fixture
def editor(editor_factory: Callable[..., Editor], ollama: OllamaFake) -> Editor:
    # Without prefetch, so that tests can count requests; tests/e2e/test_features.py
    # covers prefetch, and the soak test runs with it on.
    return editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                           "prefetch": False})
