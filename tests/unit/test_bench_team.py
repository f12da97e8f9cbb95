"""Figure 11's typing scripts: what the simulated editors type is the real file."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.team import FILES, WAIT_EVERY, Sent, _busy_wall, script, source_of


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(FILES), st.integers(1, 400), st.integers(0, 1000), st.integers(0, 7))
def test_the_buffer_is_always_the_start_of_the_real_file(
        module: str, keys: int, seed: int, phase: int) -> None:
    source = source_of(module)
    typed = script(source, keys, seed, phase)
    assert len(typed) == keys
    text = "".join(key.text for key in typed)
    assert source.startswith(text)


def test_every_third_line_end_is_a_wait_before_enter() -> None:
    source = source_of("fnmatch")
    typed = script(source, 400, seed=1, phase=0)
    waits = [i for i, key in enumerate(typed) if key.wait]
    assert waits, "no wait in 400 keys"
    for i in waits:
        assert typed[i + 1].text.startswith("\n")  # Enter comes after the wait
        line = "".join(key.text for key in typed[: i + 1]).count("\n") + 1
        assert line % WAIT_EVERY == 0


def test_busy_wall_counts_overlapping_requests_once() -> None:
    sent = [Sent(0.0, 2.0), Sent(1.0, 3.0), Sent(5.0, 6.0), Sent(5.5, 5.6),
            Sent(10.0, 20.0, from_cache=True)]
    assert _busy_wall(sent) == 4.0
