"""vLLM's OpenAI-compatible server, with its differences.

Never sends ``suffix`` (vLLM rejects it), always sends ``max_tokens`` (its default
is 16), and asks for special tokens in the text so stop strings like
``<|file_sep|>`` can match.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from llama_coder.backends.base import Capabilities, Probe
from llama_coder.backends.openai import OpenAIBackend
from llama_coder.core.errors import LlamaCoderError


class VllmBackend(OpenAIBackend):
    name = "vllm"
    capabilities: ClassVar[Capabilities] = Capabilities(max_stop=None)
    install_hint = "start vLLM with that model: vllm serve MODEL"
    extra_body: ClassVar[dict[str, Any]] = {"skip_special_tokens": False}
    accepts_suffix: ClassVar[bool] = False  # vLLM answers 400 to `suffix`

    async def probe(self) -> Probe:
        start = time.perf_counter()
        try:
            status, _ = await self.http.get_status(self._path("/health"))
        except LlamaCoderError as exc:
            return Probe(False, (time.perf_counter() - start) * 1000, str(exc))
        elapsed = (time.perf_counter() - start) * 1000
        if status == 200:
            return Probe(True, elapsed, "ok")
        return Probe(False, elapsed, f"/health answered {status} (is the engine down?)")
