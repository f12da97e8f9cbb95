"""Per-request timings as users read them: in :LlamaCoderStatus and in statuslines.

The engine measures what it can see (total, first chunk, chunks) and the server
reports the rest where its protocol says it (prompt and generation time, tokens,
tokens from its KV cache). Missing figures are left out, never guessed as zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    answered_by: str  # "ollama qwen2.5-coder:1.5b-base", or "cache"
    total_ms: float
    first_chunk_ms: float | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None
    prompt_ms: float | None = None
    predicted_tokens: int | None = None  # as the server counts them, else chunks seen
    predicted_ms: float | None = None
    from_cache: bool = False

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed: from the server's own timing when it gives one, else
        from the time between the first chunk and the end."""
        if not self.predicted_tokens:
            return None
        ms = self.predicted_ms
        if ms is None and self.first_chunk_ms is not None:
            ms = self.total_ms - self.first_chunk_ms
        if not ms or ms <= 0:
            return None
        return self.predicted_tokens * 1000 / ms

    def long(self) -> str:
        """One line for :LlamaCoderStatus."""
        if self.from_cache:
            return f"{_ms(self.total_ms)} from the suggestion cache"
        parts = [_ms(self.total_ms)]
        if self.first_chunk_ms is not None:
            parts.append(f"first token {_ms(self.first_chunk_ms)}")
        if self.prompt_tokens is not None:
            prompt = f"prompt {self.prompt_tokens} tok"
            if self.cached_tokens is not None:
                prompt += f" (+{self.cached_tokens} from the server's cache)"
            if self.prompt_ms is not None:
                prompt += f" in {_ms(self.prompt_ms)}"
            parts.append(prompt)
        if self.predicted_tokens is not None:
            gen = f"{self.predicted_tokens} tok generated"
            speed = self.tokens_per_second
            if speed is not None:
                gen += f" at {speed:.0f} tok/s"
            parts.append(gen)
        parts.append(f"by {self.answered_by}")
        return ", ".join(parts)

    def short(self) -> str:
        """A few characters for a statusline."""
        if self.from_cache:
            return f"{_ms(self.total_ms)} cached"
        speed = self.tokens_per_second
        return _ms(self.total_ms) + (f" {speed:.0f} t/s" if speed is not None else "")


def _ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 else f"{ms:.0f} ms"
