"""The optional on-disk suggestion cache (``cache.disk``), shared by every Neovim.

One SQLite file under Neovim's cache directory. SQLite's locking makes two Neovim
instances writing at once safe (WAL journal: readers never wait for the writer,
writers take turns within a busy timeout). Keys are hashes of where a suggestion
came from and of its prompt, never the code itself; the suggestions are stored as
text. The size is bounded: beyond ``limit`` entries the least recently used go.

:class:`DiskCache` is the file; every call blocks on disk. :class:`BackgroundDiskCache`
is how the engine uses it: reads in one thread (a request waits for them, so they
never write), writes and least-recently-used bookkeeping in another, and a file that
fails (locked by another program, unwritable) is retried, then left alone for a
while, with one message per session.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from llama_coder.core.cache import Source, digest
from llama_coder.log import LOGGER

T = TypeVar("T")

BUSY_SECONDS = 5.0  # how long a write waits for another Neovim's write
READ_BUSY_SECONDS = 0.1  # how long a read (on the request path) waits for a lock
RETRY_PAUSE = 0.05  # before the one retry of a write that found the file locked
FIRST_PAUSE = 30.0  # seconds without the disk after a failure; doubles while it fails
LONGEST_PAUSE = 600.0


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
    """The SQLite file. ``get`` only reads (through its own connection); the uses it
    notes are written by the next ``put`` or ``write_uses``."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = max(1, limit)
        self._lock = threading.Lock()  # guards the write connection (held while it waits)
        self._uses_lock = threading.Lock()  # guards _uses only: never held while waiting
        self._uses: dict[bytes, float] = {}  # key -> when it was read, not yet written
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
        self._reader = sqlite3.connect(str(path), timeout=READ_BUSY_SECONDS,
                                       check_same_thread=False, isolation_level=None)

    def get(self, key: bytes) -> str | None:
        """The suggestion stored for ``key``; a hit is noted as a use, not written."""
        row = self._reader.execute("SELECT suggestion FROM suggestions WHERE key = ?",
                                   (key,)).fetchone()
        if row is None:
            return None
        with self._uses_lock:
            self._uses[key] = time.time()
        return str(row[0])

    def put(self, key: bytes, suggestion: str) -> None:
        self._write(key, suggestion)

    def write_uses(self) -> None:
        """Write the uses noted by ``get`` (which the least-recently-used bound reads)."""
        self._write(None, "")

    def _write(self, key: bytes | None, suggestion: str) -> None:
        """One transaction: the noted uses, then the suggestion for ``key`` (if any)."""
        with self._uses_lock:
            uses, self._uses = self._uses, {}
        if key is None and not uses:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # waits up to BUSY_SECONDS for the lock
                try:
                    self._db.executemany("UPDATE suggestions SET used = ? WHERE key = ?",
                                         [(used, k) for k, used in uses.items()])
                    if key is not None:
                        self._insert(key, suggestion)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except BaseException:
                with self._uses_lock:  # not written: keep them for the next write
                    self._uses = {**uses, **self._uses}
                raise

    def _insert(self, key: bytes, suggestion: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO suggestions VALUES (?, ?, ?)",
                         (key, suggestion, time.time()))
        count = int(self._db.execute("SELECT count(*) FROM suggestions").fetchone()[0])
        if count > self.limit:
            self._db.execute("DELETE FROM suggestions WHERE key IN (SELECT key FROM "
                             "suggestions ORDER BY used LIMIT ?)", (count - self.limit,))

    def close(self) -> None:
        with self._lock:
            self._reader.close()
            self._db.close()


class Backoff:
    """After a failure the disk is left alone for a pause that doubles while it keeps
    failing; a success resets it. Only the session's first failure is to be told."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._resume_at = 0.0
        self._told = False

    def open(self) -> bool:
        with self._lock:
            return self.clock() >= self._resume_at

    def failed(self) -> tuple[float, bool]:
        """Note a failure: (the pause now starting, whether to tell the user)."""
        with self._lock:
            pause = min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** self._failures)
            self._failures += 1
            self._resume_at = self.clock() + pause
            tell, self._told = not self._told, True
            return pause, tell

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0


def _locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


class BackgroundDiskCache:
    """The engine's disk cache: never blocks the event loop, never writes on the
    request path, and survives a locked or broken file (see the module's text)."""

    def __init__(self, path: Path, limit: int, warn: Callable[[str], None]) -> None:
        self.path = path
        self._limit = limit
        self._warn = warn
        self.backoff = Backoff()
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="llama-coder-disk-read")
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="llama-coder-disk-write")
        self._open_lock = threading.Lock()
        self._cache: DiskCache | None = None
        self._writes.submit(self._guarded, self._opened)  # open it now, in the background

    def _opened(self) -> DiskCache:
        with self._open_lock:
            if self._cache is None:
                self._cache = DiskCache(self.path, self._limit)
            return self._cache

    def _guarded(self, work: Callable[[], T], retry: bool = False) -> T | None:
        """Run ``work`` (in a worker thread) unless the disk is being left alone; a
        failure starts a pause. ``retry``: a locked file is tried once more first."""
        if not self.backoff.open():
            return None
        for attempt in (1, 2):
            try:
                result = work()
            except (OSError, sqlite3.Error) as exc:
                if retry and attempt == 1 and _locked(exc):
                    LOGGER.info("disk cache %s is locked; trying again", self.path)
                    time.sleep(RETRY_PAUSE)  # a worker thread: the editor does not wait
                    continue
                self._failed(exc)
                return None
            self.backoff.succeeded()
            return result
        return None

    def _failed(self, exc: BaseException) -> None:
        pause, tell = self.backoff.failed()
        LOGGER.warning("disk cache %s failed (%s); not used for %g s", self.path, exc, pause)
        if tell:
            self._warn(f"cache.disk: cannot use {self.path} ({exc}); suggestions are cached "
                       f"in memory only for now (the file is tried again in {pause:g} s)")

    async def get(self, key: bytes) -> str | None:
        """The stored suggestion for ``key``, or None (also while the disk is left alone)."""
        if not self.backoff.open():
            return None
        found = await asyncio.get_running_loop().run_in_executor(
            self._reads, self._guarded, lambda: self._opened().get(key))
        if found is not None:
            self._writes.submit(self._guarded, lambda: self._opened().write_uses(), True)
        return found

    def put(self, key: bytes, text: str) -> None:
        """Store ``text`` in the background."""
        if self.backoff.open():
            self._writes.submit(self._guarded, lambda: self._opened().put(key, text), True)

    async def aclose(self) -> None:
        """After the writes already queued."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writes, self._close)
        self._reads.shutdown(wait=False)
        self._writes.shutdown(wait=False)

    def _close(self) -> None:
        with self._open_lock:
            cache, self._cache = self._cache, None
        if cache is not None:
            try:
                cache.close()
            except (OSError, sqlite3.Error) as exc:
                LOGGER.warning("closing the disk cache failed: %s", exc)

