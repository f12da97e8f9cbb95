"""The engine's part of :checkhealth: the server, the model, and the process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from llama_coder.completer import Completer
from llama_coder.core.errors import LlamaCoderError
from llama_coder.log import LOGGER
from llama_coder.version import VERSION


async def health_report(completer: Completer | None, info: Callable[[], dict[str, Any]],
                        problems: list[str]) -> dict[str, Any]:
    """``completer`` None: backend = 'auto' found no server (the controller adds why)."""
    report: dict[str, Any] = {"info": info(), "problems": problems, "version": VERSION}
    if completer is not None:
        await _server_part(completer, info, report)
    report["tasks"] = len(asyncio.all_tasks()) - 1  # the one asking aside
    report["connections"] = completer.backend.http.open_connections() if completer else 0
    report["rss_mb"] = rss_mb()
    return report


async def _server_part(completer: Completer, info: Callable[[], dict[str, Any]],
                       report: dict[str, Any]) -> None:
    try:
        probe = await completer.backend.probe()
        report["reachable"] = probe.reachable
        report["latency_ms"] = round(probe.latency_ms, 1)
        report["probe"] = probe.detail
        if probe.reachable:
            check = await completer.check_model()
            report["model_status"] = check.status
            report["model_message"] = check.message
            report["info"] = info()
    except LlamaCoderError as exc:
        report["error"] = str(exc)
    except Exception:
        LOGGER.exception("internal error in the health check")
        report["error"] = "internal error (see the log file)"
    report["warning"] = completer.resolution.warning or ""


def rss_mb() -> float | None:
    """The engine's resident memory, where /proc tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
