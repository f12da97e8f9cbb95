"""Which server answers: a route per filetype, then the fallback chain.

The completer for a filetype is its route's (``routes.python``), else the ``'*'``
route's, else the top-level server's. When it cannot be reached or answers with an
error, the fallbacks are tried in order. A server that failed is tried again after
``fallback_retry`` milliseconds (so a server that is down costs no connect timeout
on every keystroke), first in line again once that time has passed: a recovered
primary is used again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from llama_coder.completer import Completer
from llama_coder.core.config import Config
from llama_coder.core.errors import (
    AuthFailed,
    LlamaCoderError,
    MalformedStream,
    ModelMissing,
    ServerBusy,
    ServerError,
    Timeout,
    Unreachable,
)

# Failures another server may not have; a bad request or a config error it would share.
FALLBACK_ON = (Unreachable, ServerError, ServerBusy, Timeout, ModelMissing, AuthFailed,
               MalformedStream)

MAIN = "main"


def worth_falling_back(error: LlamaCoderError) -> bool:
    return isinstance(error, FALLBACK_ON)


class Router:
    def __init__(self, config: Config, make: Callable[[Config], Completer]) -> None:
        self.config = config
        self.main = make(config)
        self.routes = {ft: (f"routes.{ft}", make(route)) for ft, route in config.routes.items()}
        self.fallbacks = [(f"fallback[{i + 1}]", make(fb)) for i, fb in enumerate(config.fallback)]
        self._down_until: dict[str, float] = {}

    def completers(self) -> Iterator[tuple[str, Completer]]:
        yield MAIN, self.main
        yield from self.routes.values()
        yield from self.fallbacks

    def chain(self, filetype: str) -> list[tuple[str, Completer]]:
        """The completers to try for ``filetype``, in order; servers that failed within
        the retry time go last (still tried when nothing else answers)."""
        primary = self.routes.get(filetype) or self.routes.get("*") or (MAIN, self.main)
        order = [primary, *self.fallbacks]
        return ([item for item in order if not self.is_down(item[0])]
                + [item for item in order if self.is_down(item[0])])

    def failed(self, name: str) -> None:
        self._down_until[name] = time.monotonic() + self.config.fallback_retry / 1000

    def answered(self, name: str) -> None:
        self._down_until.pop(name, None)

    def is_down(self, name: str) -> bool:
        return self._down_until.get(name, 0.0) > time.monotonic()
