"""llama.cpp's llama-server: /infill (the server builds the FIM prompt) or /completion.

/infill needs FIM tokens in the model's vocabulary and answers 501 without them;
that is remembered per model, so the fallback to /completion with our own prompt
costs one extra request per model, not one per keystroke. Server work is always
bounded by ``n_predict`` and ``t_max_predict_ms``.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, ClassVar

from llama_coder.backends.base import Backend, Capabilities, Event, ModelCheck, StreamStats
from llama_coder.backends.openai import model_ids
from llama_coder.core.completion import Request
from llama_coder.core.errors import BadRequest, ServerError, Unsupported
from llama_coder.core.fim import normalise_model_name

# The least time a continuation gets to generate (see Request.generated_ms).
MIN_PREDICT_MS = 100


def _aliases(data: object) -> tuple[str, ...]:
    items = data.get("data") if isinstance(data, dict) else None
    found: list[str] = []
    for item in items or []:
        if isinstance(item, dict):
            aliases = item.get("aliases")
            if isinstance(aliases, list):
                found.extend(str(a) for a in aliases)
    return tuple(found)


def _matches(wanted: str, served: str) -> bool:
    """Lenient: ``qwen2.5-coder-1.5b`` matches ``/models/qwen2.5-coder-1.5b-q8_0.gguf``."""
    want = normalise_model_name(wanted)
    have = normalise_model_name(served)
    return bool(want) and (want == have or want in have or os.path.basename(wanted) == served)


class LlamaCppBackend(Backend):
    name = "llamacpp"
    label = "llama-server"
    capabilities: ClassVar[Capabilities] = Capabilities()
    warm_tokens: ClassVar[int] = 0  # n_predict 0: the prompt is evaluated, nothing generated
    install_hint = "start llama-server with it: llama-server -m MODEL.gguf"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._no_infill: set[str] = set()  # models whose /infill answered 501

    def infill_supported(self) -> bool | None:
        """False once /infill answered 501 for this model; None while unknown."""
        return False if self.model in self._no_infill else None

    def _uses_infill(self, allow_server_fim: bool) -> bool:
        return allow_server_fim and self.infill_supported() is not False

    def fim_side(self, allow_server_fim: bool) -> str:
        return "server (llama.cpp /infill)" if self._uses_infill(allow_server_fim) else "client"

    def can_continue(self, request: Request) -> bool:
        # /infill puts `prompt` after the prefix, before the suffix: not a cheap continuation.
        return not self._uses_infill(request.allow_server_fim)

    async def health(self) -> tuple[bool, str]:
        status, _ = await self.http.get_status("/health")
        if status == 200:
            return True, "ok"
        if status == 503:
            return True, "loading"
        return False, f"/health answered {status}"

    async def served_models(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(ids, aliases) of what the server serves: /v1/models, or /props on servers
        that predate it."""
        try:
            data = await self.http.request_json("GET", "/v1/models")
            return model_ids(data), _aliases(data)
        except (ServerError, BadRequest):
            props = await self.http.request_json("GET", "/props")
            path = props.get("model_path") if isinstance(props, dict) else None
            return ((str(path),) if path else ()), ()

    async def check_model(self, model: str | None = None) -> ModelCheck:
        names, aliases = await self.served_models()
        self.served_model = names[0] if names else ""
        wanted = model if model is not None else self.settings.model
        if not wanted:
            return ModelCheck("present" if names else "unknown", self.served_model, names)
        if any(_matches(wanted, n) for n in (*names, *aliases)):
            return ModelCheck("present", wanted, names)
        shown = ", ".join(names) or "none"
        return ModelCheck(
            "missing", wanted, names,
            f"llama-server serves {shown}, not '{wanted}'; leave `model` empty to use what "
            f"it serves, or {self.install_hint}",
        )

    def _common(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "n_predict": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "cache_prompt": True,
            "t_max_predict_ms": self._time_budget(request),
            # Prompt timings in every event, not only the last: a stream cut short
            # after its first line still reports what its prompt cost.
            "timings_per_token": True,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.indent:
            body["n_indent"] = request.indent
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def _time_budget(self, request: Request) -> int:
        """t_max_predict_ms (0: no limit). The rest of a block (Request.continuation)
        gets what is left of it, counted from the block's first token, as the server
        counts it for one request."""
        budget = self.settings.t_max_predict_ms
        if budget > 0 and request.generated_ms > 0:
            return max(MIN_PREDICT_MS, round(budget - request.generated_ms))
        return budget

    def infill_body(self, request: Request) -> dict[str, Any]:
        body = self._common(request)
        body["input_prefix"] = request.prefix
        body["input_suffix"] = request.suffix
        if request.extra_context:
            body["input_extra"] = [
                {"filename": name, "text": text} for name, text in request.extra_context
            ]
        return body

    def completion_body(self, request: Request) -> dict[str, Any]:
        body = self._common(request)
        body["prompt"] = request.client_prompt()
        return body

    async def stream(
        self,
        request: Request,
        cancel: asyncio.Event | None = None,
        stats: StreamStats | None = None,
    ) -> AsyncGenerator[str, None]:
        routes = ["/completion"]
        if self._uses_infill(request.allow_server_fim):
            routes.insert(0, "/infill")
        for path in routes:
            body = self.infill_body if path == "/infill" else self.completion_body
            try:
                async with aclosing(
                    self.stream_texts(path, functools.partial(body, request), cancel, stats)
                ) as texts:
                    async for text in texts:
                        yield text
                return
            except Unsupported:
                if path != "/infill":
                    raise
                self._no_infill.add(self.model)  # 501 comes before any text

    def read_event(self, obj: dict[str, Any], stats: StreamStats) -> Event:
        text = obj.get("content")
        final = obj.get("stop") is True
        _fill_timings(stats, obj)
        if final:
            predicted = obj.get("tokens_predicted")
            stats.predicted_tokens = predicted if isinstance(predicted, int) else None
            stats.stop_reason = str(obj.get("stop_type", ""))
        return Event(text if isinstance(text, str) else "", final)


def _fill_timings(stats: StreamStats, obj: dict[str, Any]) -> None:
    """The final event's timings; with ``timings_per_token``, every event's."""
    timings = obj.get("timings")
    if isinstance(timings, dict):
        stats.prompt_tokens = timings.get("prompt_n")
        stats.cached_tokens = timings.get("cache_n")
        stats.prompt_ms = timings.get("prompt_ms")
        stats.predicted_ms = timings.get("predicted_ms")
