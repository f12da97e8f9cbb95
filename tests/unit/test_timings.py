from __future__ import annotations

from llama_coder.core.timings import Timings


def test_server_figures_are_shown_and_missing_ones_left_out() -> None:
    full = Timings("llamacpp smollm2", total_ms=1234.0, first_chunk_ms=410.0, prompt_tokens=12,
                   cached_tokens=300, prompt_ms=66.0, predicted_tokens=40, predicted_ms=800.0)
    assert full.long() == ("1.2 s, first token 410 ms, prompt 12 tok (+300 from the server's "
                           "cache) in 66 ms, 40 tok generated at 50 tok/s, by llamacpp smollm2")
    assert full.short() == "1.2 s 50 t/s"
    bare = Timings("openai m", total_ms=90.0)
    assert bare.long() == "90 ms, by openai m" and bare.short() == "90 ms"


def test_rate_from_the_stream_when_the_server_gives_no_timing() -> None:
    t = Timings("openai m", total_ms=600.0, first_chunk_ms=100.0, predicted_tokens=10)
    assert t.tokens_per_second == 20.0
    assert Timings("x", total_ms=5.0, first_chunk_ms=5.0, predicted_tokens=3).tokens_per_second \
        is None  # no time between the first chunk and the end: no rate


def test_cache_hits_say_so() -> None:
    hit = Timings("ollama m", total_ms=1.6, from_cache=True)
    assert hit.long() == "2 ms from the suggestion cache" and hit.short() == "2 ms cached"
