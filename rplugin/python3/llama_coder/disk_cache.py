"""The optional on-disk suggestion cache (``cache.disk``), shared by every Neovim.

One SQLite file under Neovim's cache directory. SQLite's locking makes two Neovim
instances writing at once safe (WAL journal: readers never wait for the writer,
writers take turns within a busy timeout). Keys are hashes of where a suggestion
came from and of its prompt, never the code itself; the suggestions are stored as
text. The size is bounded: beyond ``limit`` entries the least recently used go.

Every call blocks on disk, so the engine makes them in its worker thread.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from pathlib import Path

from llama_coder.core.cache import Source, digest

BUSY_SECONDS = 5.0  # how long a write waits for another Neovim's write


def disk_key(source: Source, prefix: str, suffix: str) -> bytes:
    where = "\0".join((source.backend, source.endpoint, source.model, source.format))
    return hashlib.blake2b(where.encode() + digest(prefix) + digest(suffix),
                           digest_size=20).digest()


def default_dir(environ: dict[str, str]) -> Path:
    """Where the Lua shim says (stdpath('cache')), else where Neovim would put it."""
    given = environ.get("LLAMA_CODER_CACHE_DIR")
    if given:
        return Path(given)
    base = environ.get("XDG_CACHE_HOME") or str(Path(environ.get("HOME", "~")) / ".cache")
    return Path(base).expanduser() / "nvim" / "llama-coder"


class DiskCache:
    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = max(1, limit)
        self._lock = threading.Lock()  # one connection, used from one thread at a time
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self._db = sqlite3.connect(str(path), timeout=BUSY_SECONDS, check_same_thread=False,
                                   isolation_level=None)
        if fresh:
            os.chmod(path, 0o600)  # suggestions are code: the user's only
        # Two Neovims may create the file at the same moment; switching it to WAL takes
        # a lock that SQLite's busy timeout does not always wait for: retry briefly.
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS suggestions (key BLOB PRIMARY KEY,"
                                 " suggestion TEXT NOT NULL, used REAL NOT NULL)")
                self._db.execute("CREATE INDEX IF NOT EXISTS by_use ON suggestions (used)")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def get(self, key: bytes) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT suggestion FROM suggestions WHERE key = ?",
                                   (key,)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE suggestions SET used = ? WHERE key = ?",
                             (time.time(), key))
            return str(row[0])

    def put(self, key: bytes, suggestion: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO suggestions VALUES (?, ?, ?)",
                             (key, suggestion, time.time()))
            count = int(self._db.execute("SELECT count(*) FROM suggestions").fetchone()[0])
            if count > self.limit:
                self._db.execute(
                    "DELETE FROM suggestions WHERE key IN (SELECT key FROM suggestions "
                    "ORDER BY used LIMIT ?)", (count - self.limit,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM suggestions").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
