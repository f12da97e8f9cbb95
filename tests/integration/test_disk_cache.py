"""The on-disk cache: bounded, and safe with two Neovim instances writing at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from llama_coder.core.cache import Source
from llama_coder.disk_cache import DiskCache, default_dir, disk_key

SRC = Source("ollama", "http://127.0.0.1:11434", "qwen2.5-coder:1.5b", "qwen")
ROOT = Path(__file__).resolve().parents[2]


def test_round_trip_lru_bound_and_private_file(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c" / "suggestions.sqlite3", limit=3)
    for i in range(3):
        cache.put(disk_key(SRC, f"p{i}", ""), f"s{i}")
    assert cache.get(disk_key(SRC, "p0", "")) == "s0"  # p0 is now the most recent
    cache.put(disk_key(SRC, "p3", ""), "s3")
    assert len(cache) == 3
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
    cache = DiskCache(db, limit=500)
    assert len(cache) == 500  # both wrote 400; bounded to the limit
    src = Source("ollama", "e", "m", "qwen")
    assert cache.get(disk_key(src, "a-399", "")) == "a-399"
    assert cache.get(disk_key(src, "b-399", "")) == "b-399"


async def test_an_unusable_cache_file_is_said_once_and_memory_goes_on(tmp_path: Path) -> None:
    from llama_coder.core.config import parse_config
    from llama_coder.core.prompt import Snapshot
    from llama_coder.engine import Engine
    from tests.fakes.backends import OllamaFake

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    warnings: list[str] = []
    with OllamaFake(tokens=["x"]) as fake:
        config = parse_config({"endpoint": fake.url, "cache": {"disk": True}}).config
        engine = Engine(config, {"LLAMA_CODER_CACHE_DIR": str(blocker)}, warn=warnings.append)
        try:
            snap = Snapshot(["y = "], 0, 0, 4, "a.py", "python")
            assert (await engine.complete(snap)).text == "x"
            assert (await engine.complete(snap)).from_cache  # the memory cache still works
        finally:
            await engine.aclose()
    assert len(warnings) == 1 and "cache.disk" in warnings[0] and "memory only" in warnings[0]
