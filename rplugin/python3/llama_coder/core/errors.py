"""Typed, human errors. Messages name what went wrong and what to do; never a traceback."""

from __future__ import annotations


class LlamaCoderError(Exception):
    """Base class: ``str(error)`` is fit to show the user as it is."""

    kind = "error"

    @property
    def short(self) -> str:
        """A few words for the status line."""
        return self.kind


class ConfigError(LlamaCoderError):
    kind = "config"


class Unreachable(LlamaCoderError):
    kind = "unreachable"


class AuthFailed(LlamaCoderError):
    kind = "auth failed"


class ModelMissing(LlamaCoderError):
    kind = "model missing"


class ServerBusy(LlamaCoderError):
    kind = "server busy"


class ServerError(LlamaCoderError):
    kind = "server error"


class BadRequest(LlamaCoderError):
    kind = "bad request"


class MalformedStream(LlamaCoderError):
    kind = "malformed stream"


class Timeout(LlamaCoderError):
    kind = "timeout"


class ConnectTimeout(Timeout):
    kind = "connect timeout"


class FirstChunkTimeout(Timeout):
    kind = "first-chunk timeout"


class TotalTimeout(Timeout):
    kind = "total timeout"


class DownloadStalled(Timeout):
    """A model download that made no progress for timeout.pull_idle."""

    kind = "download stalled"


class Unsupported(LlamaCoderError):
    kind = "unsupported"


def clip(text: str, limit: int = 200) -> str:
    """Text cut to ``limit`` characters for a message, with the cut marked."""
    text = text.replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 1] + "…"
