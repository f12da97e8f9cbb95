"""Ollama: /api/generate with raw=true and our FIM prompt; /api/tags; /api/pull."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, ClassVar

from llama_coder.backends.base import (
    Backend,
    Capabilities,
    Event,
    ModelCheck,
    PullProgress,
    StreamStats,
)
from llama_coder.backends.http import StreamState
from llama_coder.backends.streaming import error_text, ndjson_objects
from llama_coder.core.completion import Request
from llama_coder.core.errors import DownloadStalled, LlamaCoderError, ModelMissing, ServerError

DEFAULT_MODEL = "qwen2.5-coder:1.5b-base"


def canonical_name(name: str) -> str:
    """Ollama's reading of a model name: a bare name means the ``latest`` tag."""
    name = name.strip()
    base = name.rsplit("/", 1)[-1]
    return name if ":" in base else f"{name}:latest"


class OllamaBackend(Backend):
    name = "ollama"
    label = "Ollama"
    sse = False
    default_model = DEFAULT_MODEL
    capabilities: ClassVar[Capabilities] = Capabilities(can_pull=True)

    async def health(self) -> tuple[bool, str]:
        data = await self.http.request_json("GET", "/api/version")
        version = data.get("version", "?") if isinstance(data, dict) else "?"
        return True, f"ok (Ollama {version})"

    async def check_model(self, model: str | None = None) -> ModelCheck:
        model = model or self.model
        data = await self.http.request_json("GET", "/api/tags")
        models = data.get("models") if isinstance(data, dict) else None
        names = tuple(
            str(m.get("name") or m.get("model"))
            for m in (models or [])
            if isinstance(m, dict) and (m.get("name") or m.get("model"))
        )
        wanted = canonical_name(model)
        if any(canonical_name(n) == wanted for n in names):
            return ModelCheck("present", model, names)
        shown = ", ".join(names[:10]) or "none"
        return ModelCheck(
            "missing", model, names,
            f"Ollama has no model '{model}' (it has: {shown}). Run: ollama pull {model}",
        )

    async def pull_model(self, model: str, on_progress: Callable[[PullProgress], None]) -> None:
        """Download ``model``. A download has no total time limit (a big model on a slow
        line takes hours) but fails once it makes no progress for timeout.pull_idle:
        Ollama repeats its last progress line several times a second even when no byte
        arrives, so a stall shows as unchanged progress, or as silence."""
        idle = self.settings.pull_idle_timeout
        body = {"model": model, "name": model, "stream": True}
        state = StreamState()
        loop = asyncio.get_running_loop()
        last: tuple[object, ...] = ()
        changed_at = loop.time()
        try:
            async with (
                aclosing(self.http.stream("/api/pull", body, state=state, idle=idle)) as chunks,
                aclosing(ndjson_objects(chunks)) as objects,
            ):
                async for obj in objects:
                    if "error" in obj:
                        raise ServerError(
                            f"Ollama could not download {model}: {error_text(obj['error'])}"
                        )
                    status = str(obj.get("status", ""))
                    completed, total = obj.get("completed"), obj.get("total")
                    progress = (status, obj.get("digest"), completed)
                    if progress != last:
                        last, changed_at = progress, loop.time()
                    elif loop.time() - changed_at > idle:
                        raise DownloadStalled("")
                    on_progress(PullProgress(
                        status,
                        completed if isinstance(completed, int) else None,
                        total if isinstance(total, int) else None,
                    ))
                    if status == "success":
                        state.complete = True
                        return
        except DownloadStalled:
            raise DownloadStalled(
                f"the download of {model} stalled: no progress for {idle:g} s "
                "(timeout.pull_idle); downloading again resumes where it stopped"
            ) from None
        raise ServerError(f"Ollama's download of {model} ended without success")

    def body(self, request: Request) -> dict[str, Any]:
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop),
        }
        if request.seed is not None:
            options["seed"] = request.seed
        return {
            "model": self.model,
            "prompt": request.client_prompt(),
            "raw": True,
            "stream": True,
            "think": False,
            "keep_alive": self.settings.keep_alive,
            "options": options,
        }

    def stream(
        self,
        request: Request,
        cancel: asyncio.Event | None = None,
        stats: StreamStats | None = None,
    ) -> AsyncGenerator[str, None]:
        return self.stream_texts("/api/generate", lambda: self.body(request), cancel, stats)

    def read_event(self, obj: dict[str, Any], stats: StreamStats) -> Event:
        text = obj.get("response")
        done = bool(obj.get("done"))
        if done:
            _fill_stats(stats, obj)
        return Event(text if isinstance(text, str) else "", done)

    def stream_error(self, message: str) -> LlamaCoderError:
        lowered = message.lower()
        if "not found" in lowered and "model" in lowered:
            return ModelMissing(f"Ollama: {message}")
        return ServerError(f"Ollama reported an error: {message}")


def _fill_stats(stats: StreamStats, obj: dict[str, Any]) -> None:
    stats.prompt_tokens = _int(obj.get("prompt_eval_count"))
    stats.predicted_tokens = _int(obj.get("eval_count"))
    stats.stop_reason = str(obj.get("done_reason", ""))
    prompt_ns = _int(obj.get("prompt_eval_duration"))
    stats.prompt_ms = prompt_ns / 1e6 if prompt_ns is not None else None
    eval_ns = _int(obj.get("eval_duration"))
    stats.predicted_ms = eval_ns / 1e6 if eval_ns is not None else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
