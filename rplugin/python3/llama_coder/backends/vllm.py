"""vLLM's OpenAI-compatible server, with its differences.

Never sends ``suffix`` (vLLM rejects it), always sends ``max_tokens`` (its default
is 16), and asks for special tokens in the text so stop strings like
``<|file_sep|>`` can match.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llama_coder.backends.base import Capabilities
from llama_coder.backends.openai import OpenAIBackend


class VllmBackend(OpenAIBackend):
    name = "vllm"
    label = "vLLM"
    capabilities: ClassVar[Capabilities] = Capabilities(max_stop=None)
    install_hint = "start vLLM with that model: vllm serve MODEL"
    extra_body: ClassVar[dict[str, Any]] = {"skip_special_tokens": False}
    accepts_suffix: ClassVar[bool] = False  # vLLM answers 400 to `suffix`

    async def health(self) -> tuple[bool, str]:
        status, _ = await self.http.get_status("/health")
        if status == 200:
            return True, "ok"
        return False, f"/health answered {status} (is the engine down?)"
