from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.cache import CONTINUATION_CANDIDATES, Source, SuggestionCache

SRC = Source("ollama", "http://127.0.0.1:11434", "qwen2.5-coder:1.5b", "qwen")
OTHER = Source("ollama", "http://127.0.0.1:11434", "codellama:7b-code", "codellama")


def test_exact_hit_and_source_separation() -> None:
    cache = SuggestionCache(4)
    cache.put(SRC, "def f(", "\n", "x):")
    assert cache.get(SRC, "def f(", "\n") == "x):"
    assert cache.get(OTHER, "def f(", "\n") is None
    assert cache.get(SRC, "def f(", "") is None


def test_lru_eviction_keeps_recently_used() -> None:
    cache = SuggestionCache(2)
    cache.put(SRC, "a", "", "1")
    cache.put(SRC, "b", "", "2")
    assert cache.get(SRC, "a", "") == "1"  # a is now the most recent
    cache.put(SRC, "c", "", "3")
    assert len(cache) == 2
    assert cache.get(SRC, "b", "") is None
    assert cache.get(SRC, "a", "") == "1"
    assert cache.get(SRC, "c", "") == "3"


def test_size_zero_stores_nothing_and_resize_trims() -> None:
    cache = SuggestionCache(0)
    cache.put(SRC, "a", "", "1")
    assert len(cache) == 0
    cache = SuggestionCache(3)
    for k in "abc":
        cache.put(SRC, k, "", k)
    cache.resize(1)
    assert len(cache) == 1 and cache.get(SRC, "c", "") == "c"


def test_typing_through_continuation() -> None:
    cache = SuggestionCache(8)
    cache.put(SRC, "x = comp", "\n", "ute(1, 2)")
    assert cache.get_continuation(SRC, "x = compute(", "\n") == "1, 2)"
    assert cache.get_continuation(SRC, "x = compx", "\n") is None  # typed something else
    assert cache.get_continuation(SRC, "x = compute(1, 2)", "\n") is None  # nothing left
    assert cache.get_continuation(SRC, "x = comput", "other") is None  # suffix changed
    assert cache.get_continuation(SRC, "y = comput", "\n") is None  # prefix start differs


def test_keys_are_hashes_not_text() -> None:
    cache = SuggestionCache(1)
    big = "x" * 1_000_000
    cache.put(SRC, big, big, "s")
    key = next(iter(cache._entries))
    assert sum(len(part) for part in key[1:]) == 32


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)), max_size=60),
       st.integers(0, 10))
def test_never_grows_past_size(items: list[tuple[str, str]], size: int) -> None:
    cache = SuggestionCache(size)
    for prefix, suggestion in items:
        cache.put(SRC, prefix, "", suggestion)
        assert len(cache) <= size


def test_continuation_scans_only_the_newest_entries() -> None:
    cache = SuggestionCache(1000)
    cache.put(SRC, "x = comp", "\n", "ute(1, 2)")
    for i in range(CONTINUATION_CANDIDATES - 1):
        cache.put(SRC, f"other {i}", "\n", "zzz")
    assert cache.get_continuation(SRC, "x = compu", "\n") == "te(1, 2)"  # still a candidate
    for i in range(CONTINUATION_CANDIDATES):
        cache.put(SRC, f"more {i}", "\n", "zzz")
    # Pushed out of the scan by newer entries, though still in the cache for exact hits.
    assert cache.get_continuation(SRC, "x = comput", "\n") is None
    assert cache.get(SRC, "x = comp", "\n") == "ute(1, 2)"
