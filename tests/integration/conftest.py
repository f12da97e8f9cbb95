from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake


@pytest.fixture
def ollama_fake() -> Iterator[OllamaFake]:
    with OllamaFake() as fake:
        yield fake


@pytest.fixture
def openai_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake() as fake:
        yield fake


@pytest.fixture
def vllm_fake() -> Iterator[OpenAIFake]:
    with OpenAIFake(vllm=True) as fake:
        yield fake


@pytest.fixture
def llamacpp_fake() -> Iterator[LlamaCppFake]:
    with LlamaCppFake() as fake:
        yield fake
