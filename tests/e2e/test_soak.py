"""A short soak in every `make test` (`make soak` runs 10,000 keys): keys alone and in
batches, an odd setup() table halfway."""

from __future__ import annotations

import pytest

from tests.e2e.soak import leaks, soak, unexpected_messages


@pytest.mark.parametrize("seed", [1, 2])
def test_random_session_changes_only_what_was_typed_or_accepted(seed: int) -> None:
    result = soak(300, seed)
    assert result["on"] == result["off"]
    assert result["requests"], "the session made no requests"
    assert unexpected_messages(str(result["messages"])) == []
    assert "Traceback" not in str(result["log"])
    assert leaks(result) == []
    assert result["engines"] == 1, "one engine process, whatever setup() got"
    assert result["accepted"], "the session accepted nothing"
