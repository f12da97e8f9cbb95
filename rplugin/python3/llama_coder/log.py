"""The engine's log file: readable by the user only, secrets masked, never the screen.

Its size is bounded: past ``MAX_BYTES`` it is renamed to ``.1`` (the previous ``.1``
to ``.2``, and so on) and a new one begins, so the files never hold more than
``(BACKUPS + 1) * MAX_BYTES``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOGGER = logging.getLogger("llama_coder")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "error": logging.ERROR}
MAX_BYTES = 1_000_000
BACKUPS = 2


class SecretFilter(logging.Filter):
    """Replaces every known secret in a record's text with ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                text = text.replace(secret, "***")
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


SECRETS = SecretFilter()


def _create_private(path: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def _rotate(source: str, dest: str) -> None:
    """Rename the full file away and create its successor readable by the user only
    (the handler then opens it for appending)."""
    os.replace(source, dest)
    _create_private(source)


def setup_logging(path: str | None, level: str = "info") -> None:
    """Log to ``path`` (created with mode 0600), or nowhere when there is no path."""
    LOGGER.setLevel(LEVELS.get(level, logging.INFO))
    LOGGER.propagate = False
    for handler in list(LOGGER.handlers):
        LOGGER.removeHandler(handler)
        handler.close()
    if not path:
        LOGGER.addHandler(logging.NullHandler())
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    _create_private(path)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.rotator = _rotate
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(SECRETS)
    LOGGER.addHandler(handler)


def set_level(level: str) -> None:
    LOGGER.setLevel(LEVELS.get(level, logging.INFO))


def add_secret(secret: str) -> None:
    if secret:
        SECRETS.secrets.add(secret)
