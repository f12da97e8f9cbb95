"""The on-disk cache: bounded, safe with two Neovim instances writing at once, never a
write on the request path, and a locked or broken file costs a pause, not the session."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llama_coder import disk_cache
from llama_coder.completer import Completer
from llama_coder.core.cache import Source
from llama_coder.core.config import parse_config
from llama_coder.core.prompt import Snapshot
from llama_coder.disk_cache import DiskCache, default_dir, disk_key
from tests.fakes.backends import OllamaFake
from tests.fakes.server import until

SRC = Source("ollama", "http://127.0.0.1:11434", "qwen2.5-coder:1.5b", "qwen")
ROOT = Path(__file__).resolve().parents[2]


def rows(db: Path) -> dict[bytes, tuple[str, float]]:
    """What the file holds, read through a connection of its own."""
    with sqlite3.connect(db) as conn:
        return {key: (text, used) for key, text, used in
                conn.execute("SELECT key, suggestion, used FROM suggestions")}


def test_round_trip_lru_bound_and_private_file(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c" / "suggestions.sqlite3", limit=3)
    for i in range(3):
        cache.put(disk_key(SRC, f"p{i}", ""), f"s{i}")
    assert cache.get(disk_key(SRC, "p0", "")) == "s0"  # p0 is now the most recent
    cache.put(disk_key(SRC, "p3", ""), "s3")
    assert len(rows(tmp_path / "c" / "suggestions.sqlite3")) == 3
    assert cache.get(disk_key(SRC, "p1", "")) is None  # the least recently used went
    assert cache.get(disk_key(SRC, "p0", "")) == "s0"
    other = Source("ollama", "http://127.0.0.1:11434", "codellama:7b", "codellama")
    assert cache.get(disk_key(other, "p0", "")) is None
    assert (tmp_path / "c" / "suggestions.sqlite3").stat().st_mode & 0o777 == 0o600
    cache.close()


def test_the_directory_follows_neovim() -> None:
    assert default_dir({"LLAMA_CODER_CACHE_DIR": "/x/y"}) == Path("/x/y")
    assert default_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/nvim/llama-coder")
    assert default_dir({"HOME": "/h"}) == Path("/h/.cache/nvim/llama-coder")


WRITER = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from llama_coder.core.cache import Source
from llama_coder.disk_cache import DiskCache, disk_key
src = Source("ollama", "e", "m", "qwen")
cache = DiskCache(Path(sys.argv[2]), limit=int(sys.argv[4]))
for i in range(400):
    cache.put(disk_key(src, f"{sys.argv[3]}-{i}", ""), f"{sys.argv[3]}-{i}")
    cache.get(disk_key(src, f"{sys.argv[3]}-{i // 2}", ""))
print("ok")
"""


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    db = tmp_path / "suggestions.sqlite3"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT / "rplugin/python3"),
                               str(db), name, "500"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "ok", err
    assert len(rows(db)) == 500  # both wrote 400; bounded to the limit
    cache = DiskCache(db, limit=500)
    src = Source("ollama", "e", "m", "qwen")
    assert cache.get(disk_key(src, "a-399", "")) == "a-399"
    assert cache.get(disk_key(src, "b-399", "")) == "b-399"


async def test_an_unusable_cache_file_is_said_once_and_memory_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    warnings: list[str] = []
    with OllamaFake(tokens=["x"]) as fake:
        config = parse_config({"backend": "ollama", "endpoint": fake.url,
                               "cache": {"disk": True}}).config
        completer = Completer(config, {"LLAMA_CODER_CACHE_DIR": str(blocker)}, warn=warnings.append)
        try:
            snap = Snapshot(["y = "], 0, 0, 4, "a.py", "python")
            assert (await completer.complete(snap)).text == "x"
            assert (await completer.complete(snap)).from_cache  # the memory cache still works
        finally:
            await completer.aclose()
    assert len(warnings) == 1 and "cache.disk" in warnings[0] and "memory only" in warnings[0]
    assert not warnings[0].startswith("llama")  # the caller adds the plugin's name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another program's connection to the cache file; ``BEGIN IMMEDIATE`` on it holds
    the write lock until it commits."""
    db = tmp_path / "suggestions.sqlite3"
    DiskCache(db, 100).close()
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()


def completer_for(fake: OllamaFake, tmp_path: Path, warnings: list[str]) -> Completer:
    config = parse_config({"backend": "ollama", "endpoint": fake.url,
                           "cache": {"disk": True, "size": 0}}).config
    return Completer(config, {"LLAMA_CODER_CACHE_DIR": str(tmp_path)}, warn=warnings.append)


def snapshot(name: str) -> Snapshot:
    return Snapshot([f"{name} = "], 0, 0, len(name) + 3, "a.py", "python")


async def test_a_hit_does_not_write_on_the_request_path(
        tmp_path: Path, lock_holder: sqlite3.Connection,
        caplog: pytest.LogCaptureFixture) -> None:
    """Another Neovim holds the write lock and our own write of "b" waits for it: a
    hit for "a" is still served before that write even gives up its first try, and
    its use is written once the lock is free."""
    caplog.set_level(logging.INFO, logger="llama_coder")
    warnings: list[str] = []
    db = tmp_path / "suggestions.sqlite3"
    with OllamaFake(tokens=["1"]) as fake:
        completer = completer_for(fake, tmp_path, warnings)
        try:
            assert (await completer.complete(snapshot("a"))).text == "1"
            assert await until(lambda: len(rows(db)) == 1)
            (stored_used,) = (used for _, used in rows(db).values())
            lock_holder.execute("BEGIN IMMEDIATE")
            await completer.complete(snapshot("b"))  # its write now waits for the lock
            hit = await completer.complete(snapshot("a"))  # memory cache off: from the disk
            assert hit.from_cache and hit.text == "1"
            assert "trying again" not in caplog.text  # the write of "b" is still waiting
            assert len(fake.completions()) == 2
            lock_holder.execute("COMMIT")
            assert await until(lambda: len(rows(db)) == 2, 15)
            assert await until(lambda: max(used for _, used in rows(db).values())
                               > stored_used)
            assert rows(db)[disk_key(completer.source(), *prompt_of(completer, "a"))][1] > \
                stored_used
        finally:
            await completer.aclose()
    assert warnings == []


def test_a_read_does_not_wait_for_a_write_that_waits_for_the_lock(
        tmp_path: Path, lock_holder: sqlite3.Connection) -> None:
    cache = DiskCache(tmp_path / "suggestions.sqlite3", 100)
    cache.put(b"a", "1")
    lock_holder.execute("BEGIN IMMEDIATE")
    writer = threading.Thread(target=cache.put, args=(b"b", "2"))
    writer.start()
    try:
        assert wait_until(cache._lock.locked)  # the write waits for the file's lock
        assert cache.get(b"a") == "1"
        assert writer.is_alive()  # the read did not wait for the write
    finally:
        lock_holder.execute("COMMIT")
        writer.join()
    assert set(rows(tmp_path / "suggestions.sqlite3")) == {b"a", b"b"}
    cache.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def prompt_of(completer: Completer, name: str) -> tuple[str, str]:
    prompt = completer.plan(snapshot(name)).prompt
    return prompt.prefix, prompt.suffix


async def test_a_locked_file_is_retried_then_left_alone_then_used_again(
        tmp_path: Path, lock_holder: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(disk_cache, "BUSY_SECONDS", 0.05)
    caplog.set_level(logging.INFO, logger="llama_coder")
    warnings: list[str] = []
    db = tmp_path / "suggestions.sqlite3"
    with OllamaFake(tokens=["1"]) as fake:
        completer = completer_for(fake, tmp_path, warnings)
        assert completer.disk is not None
        clock = Clock()
        completer.disk.backoff.clock = clock
        try:
            lock_holder.execute("BEGIN IMMEDIATE")
            await completer.complete(snapshot("a"))  # its write finds the file locked, twice
            assert await until(lambda: len(warnings) == 1)
            assert "locked; trying again" in caplog.text
            assert "tried again in 30 s" in warnings[0]
            lock_holder.execute("COMMIT")
            await completer.complete(snapshot("b"))  # within the pause: the disk is left alone
            clock.now += 31
            await completer.complete(snapshot("c"))  # the pause is over: written again
            prompt = completer.plan(snapshot("c")).prompt
            key = disk_key(completer.source(), prompt.prefix, prompt.suffix)
            assert await until(lambda: key in rows(db))
            assert (await completer.complete(snapshot("c"))).from_cache  # and read again
            assert len(fake.completions()) == 3
        finally:
            await completer.aclose()
    assert set(rows(db)) == {key}  # "a" found the file locked, "b" came during the pause
    assert len(warnings) == 1  # one message, however often it fails


def test_the_pause_doubles_while_the_file_keeps_failing_and_resets_on_success() -> None:
    clock = Clock()
    backoff = disk_cache.Backoff(clock)
    pauses = []
    for _ in range(7):
        pause, _ = backoff.failed()
        pauses.append(pause)
        assert not backoff.open()
        clock.now += pause
        assert backoff.open()
    assert pauses == [30, 60, 120, 240, 480, 600, 600]
    backoff.succeeded()
    assert backoff.failed() == (30, False)  # told once per session
