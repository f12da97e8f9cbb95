"""Any OpenAI-compatible server: /v1/completions streamed as server-sent events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, ClassVar

from llama_coder.backends.base import Backend, Capabilities, Event, ModelCheck, StreamStats
from llama_coder.core.completion import Request
from llama_coder.core.errors import MalformedStream


def api_root(endpoint: str) -> str:
    """Users often paste the ``/v1`` base URL; the paths below add it themselves."""
    return endpoint[: -len("/v1")] if endpoint.endswith("/v1") else endpoint


def model_ids(data: object) -> tuple[str, ...]:
    items = data.get("data") if isinstance(data, dict) else None
    return tuple(
        str(m["id"]) for m in (items or []) if isinstance(m, dict) and isinstance(m.get("id"), str)
    )


class OpenAIBackend(Backend):
    name = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(max_stop=4)
    install_hint = "load the model on the server, or set `model` to one it lists"
    # Sent with every completion request by subclasses with server-specific fields.
    extra_body: ClassVar[dict[str, Any]] = {}
    # May prefix and suffix go as `prompt` and `suffix` (openai.send_suffix)?
    accepts_suffix: ClassVar[bool] = True

    @classmethod
    def base_url(cls, endpoint: str) -> str:
        return api_root(endpoint)

    async def health(self) -> tuple[bool, str]:
        await self.http.request_json("GET", "/v1/models")
        return True, "ok"

    async def list_models(self) -> tuple[str, ...]:
        return model_ids(await self.http.request_json("GET", "/v1/models"))

    async def check_model(self, model: str | None = None) -> ModelCheck:
        names = await self.list_models()
        wanted = model or self.settings.model
        if not wanted:
            if not names:
                return ModelCheck("unknown", "", names, "the server lists no models")
            self.served_model = names[0]
            return ModelCheck("present", names[0], names)
        if wanted in names:
            return ModelCheck("present", wanted, names)
        shown = ", ".join(names[:10]) or "none"
        return ModelCheck(
            "missing", wanted, names,
            f"the server has no model '{wanted}' (it has: {shown}); {self.install_hint}",
        )

    def _sends_suffix(self) -> bool:
        return self.settings.send_suffix and self.accepts_suffix

    def fim_side(self, allow_server_fim: bool) -> str:
        return "server (suffix)" if self._sends_suffix() else "client"

    def can_continue(self, request: Request) -> bool:
        return not self._sends_suffix()

    def server_stop(self, request: Request) -> list[str]:
        """The stop strings the server takes; the stopper applies all of them anyway."""
        limit = self.capabilities.max_stop
        if limit is None:
            return list(request.stop)
        return list(request.stop[: min(limit, self.settings.max_stop)])

    def body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
        }
        if self._sends_suffix():
            body["prompt"], body["suffix"] = request.prefix_with_context(), request.suffix
        else:
            body["prompt"] = request.client_prompt()
        stop = self.server_stop(request)
        if stop:
            body["stop"] = stop
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(self.extra_body)
        return body

    def stream(
        self,
        request: Request,
        cancel: asyncio.Event | None = None,
        stats: StreamStats | None = None,
    ) -> AsyncGenerator[str, None]:
        return self.stream_texts("/v1/completions", lambda: self.body(request), cancel, stats)

    async def ready(self) -> None:
        if not self.model:  # the body names the model: ask the server which it serves
            await self.check_model()

    def read_event(self, obj: dict[str, Any], stats: StreamStats) -> Event:
        """One event's text; the answer ends with ``[DONE]`` (or a finish_reason)."""
        choices = obj.get("choices")
        if not isinstance(choices, list):
            raise MalformedStream(f"event without choices: {str(obj)[:200]}")
        texts = []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            text = choice.get("text")
            if isinstance(text, str) and text:
                texts.append(text)
            if choice.get("finish_reason"):
                stats.stop_reason = str(choice["finish_reason"])
        usage = obj.get("usage")
        if isinstance(usage, dict):
            stats.prompt_tokens = usage.get("prompt_tokens")
            stats.predicted_tokens = usage.get("completion_tokens")
        return Event("".join(texts))
