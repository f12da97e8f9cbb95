from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.context_ring import ContextRing, as_comments
from llama_coder.core.languages import detect_language


def block(name: str, n: int = 5) -> list[str]:
    return [f"def {name}_{i}(): pass" for i in range(n)]


def test_oldest_goes_and_near_duplicates_replace() -> None:
    ring = ContextRing(size=2, chunk_lines=10)
    assert ring.add("a.py", block("a"))
    assert ring.add("b.py", block("b"))
    assert ring.add("c.py", block("c"))
    assert [c.path for c in ring.chunks()] == ["b.py", "c.py"]
    # Nearly b's lines again (one of ten lines differs): it replaces b, and is newest.
    again = block("b", 10)
    ring.add("b.py", [*block("b", 10)[:9], "x = 1"])
    assert [c.path for c in ring.chunks()] == ["c.py", "b.py"]
    ring2 = ContextRing(size=4, chunk_lines=20)
    ring2.add("b.py", again)
    assert not ring2.add("b.py", again)  # the very same: nothing changes


def test_small_chunks_and_long_ones() -> None:
    ring = ContextRing(size=4, chunk_lines=3)
    assert not ring.add("a.py", ["x = 1", "", "  "])  # too little to be worth tokens
    ring.add("a.py", block("a", 10))
    assert ring.chunks()[0].text.count("\n") == 3  # cut to chunk_lines


def test_select_budget_excludes_own_file_and_keeps_order() -> None:
    ring = ContextRing(size=8, chunk_lines=10)
    for name in ("a", "b", "c", "d"):
        ring.add(f"{name}.py", block(name))
    size = len(ring.chunks()[0].text) + len("a.py") + 1
    chosen = ring.select(budget=2 * size, exclude_path="d.py")
    assert [c.path for c in chosen] == ["b.py", "c.py"]  # the newest two others, oldest first
    assert ring.select(budget=0) == []


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 8)), max_size=40),
       st.integers(0, 5), st.integers(0, 2000))
def test_bounds_hold(adds: list[tuple[str, int]], size: int, budget: int) -> None:
    ring = ContextRing(size=size, chunk_lines=6)
    for name, n in adds:
        ring.add(f"{name}.py", block(name * (n + 1), n))
        assert len(ring) <= size
    chosen = ring.select(budget)
    assert sum(len(c.path) + len(c.text) + 1 for c in chosen) <= budget


def test_comments_in_the_current_language() -> None:
    lua = detect_language("lua", "")
    assert as_comments([("a.py", "x = 1\n")], lua) == "-- From a.py:\n-- x = 1\n"
    assert as_comments([("a.py", "x = 1\n")], None) == ""
