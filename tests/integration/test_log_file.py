"""The engine's log file: bounded in size, private, secrets masked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_coder import log
from llama_coder.log import LOGGER, add_secret, setup_logging


@pytest.fixture
def small_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(log, "MAX_BYTES", 10_000)
    path = tmp_path / "logs" / "llama-coder.log"
    setup_logging(str(path), "debug")
    yield path
    setup_logging(None)
    log.SECRETS.secrets.clear()


def test_the_log_is_rotated_and_its_total_size_bounded(small_log: Path) -> None:
    add_secret("sk-canary-123")
    for i in range(2000):  # about 20 times MAX_BYTES
        LOGGER.info("request %d with key sk-canary-123 %s", i, "x" * 60)
    files = sorted(small_log.parent.iterdir())
    assert [f.name for f in files] == ["llama-coder.log", "llama-coder.log.1",
                                       "llama-coder.log.2"]
    assert sum(f.stat().st_size for f in files) <= (log.BACKUPS + 1) * log.MAX_BYTES
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o600, f.name
        text = f.read_text(encoding="utf-8")
        assert "sk-canary-123" not in text and "***" in text
    assert "request 1999 " in small_log.read_text(encoding="utf-8")  # the newest is kept


def test_no_path_logs_nowhere(tmp_path: Path) -> None:
    setup_logging(None)
    LOGGER.warning("nowhere")
    assert all(isinstance(h, logging.NullHandler) for h in LOGGER.handlers)
