"""backend = 'auto', the pure half: classifying answers, choosing models and servers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llama_coder.backends.ollama import DEFAULT_MODEL, canonical_name
from llama_coder.core.detection import (
    DEFAULT_CANDIDATES,
    IDENTIFY_PATHS,
    KIND_ORDER,
    Answer,
    Candidate,
    Detection,
    Identity,
    OllamaModel,
    Server,
    State,
    candidates,
    choose,
    choose_ollama_model,
    choose_served_model,
    classify,
    join_places,
    ollama_models,
    server_for,
    short_model,
    variant_rank,
)

NOT_FOUND_GO = "404 page not found"  # Ollama's (Go's) answer to an unknown path
NOT_FOUND_LLAMA = {"error": {"message": "File Not Found", "type": "not_found_error", "code": 404}}
NOT_FOUND_FASTAPI = {"detail": "Not Found"}  # vLLM's
GGUF = "/models/qwen2.5-coder-1.5b-q8_0.gguf"
# llama-server's own answers, as a real one gave them (tests/integration/test_detect.py
# checks the same classification against the real server).
LLAMA_PROPS = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1,
               "model_alias": GGUF, "model_path": GGUF, "build_info": "b6000-abc"}
LLAMA_MODELS = {"models": [{"name": GGUF, "model": GGUF}], "object": "list",
                "data": [{"id": GGUF, "aliases": [GGUF], "object": "model",
                          "owned_by": "llamacpp", "meta": {"n_ctx_train": 8192}}]}
LOADING = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
LOCKED = {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}


def listing(*ids: str, owned_by: str = "fake") -> dict[str, Any]:
    return {"object": "list",
            "data": [{"id": i, "object": "model", "owned_by": owned_by} for i in ids]}


def answers(**by_path: tuple[int, Any]) -> dict[str, Answer]:
    """Answers keyed by path; keyword names are the paths without slashes."""
    paths = {"api_version": "/api/version", "props": "/props", "version": "/version",
             "models": "/v1/models"}
    return {paths[key]: Answer("http://127.0.0.1:1" + paths[key], status, body)
            for key, (status, body) in by_path.items()}


def everywhere(status: int, body: Any) -> dict[str, Answer]:
    return {p: Answer("http://127.0.0.1:1" + p, status, body) for p in IDENTIFY_PATHS}


# --- classify ------------------------------------------------------------------------


def test_llama_server() -> None:
    ident = classify(answers(api_version=(404, NOT_FOUND_LLAMA), props=(200, LLAMA_PROPS),
                             version=(404, NOT_FOUND_LLAMA), models=(200, LLAMA_MODELS)))
    assert (ident.kind, ident.label, ident.state, ident.models) == (
        "llamacpp", "llama-server", "ready", (GGUF,))
    assert ident.version == "b6000-abc"


def test_llama_server_without_v1_models_names_its_model_in_props() -> None:
    ident = classify(answers(api_version=(404, NOT_FOUND_LLAMA), props=(200, LLAMA_PROPS),
                             version=(404, NOT_FOUND_LLAMA), models=(404, NOT_FOUND_LLAMA)))
    assert ident.kind == "llamacpp" and ident.models == (GGUF,)


def test_llama_server_loading() -> None:
    """While loading, llama-server answers 503 to all but its model list."""
    ident = classify(answers(api_version=(503, LOADING), props=(503, LOADING),
                             version=(503, LOADING), models=(200, LLAMA_MODELS)))
    assert (ident.kind, ident.state) == ("llamacpp", "loading")
    assert "loading" in ident.problem


def test_ollama() -> None:
    ident = classify(answers(api_version=(200, {"version": "0.12.0"}), props=(404, NOT_FOUND_GO),
                             version=(404, NOT_FOUND_GO),
                             models=(200, listing("qwen2.5-coder:1.5b-base", owned_by="library"))))
    assert (ident.kind, ident.label, ident.version, ident.state) == (
        "ollama", "Ollama", "0.12.0", "ready")


def test_vllm() -> None:
    ident = classify(answers(api_version=(404, NOT_FOUND_FASTAPI), props=(404, NOT_FOUND_FASTAPI),
                             version=(200, {"version": "0.11.0"}),
                             models=(200, listing("Qwen/Qwen2.5-Coder-1.5B", owned_by="vllm"))))
    assert (ident.kind, ident.label, ident.version, ident.models) == (
        "vllm", "vLLM", "0.11.0", ("Qwen/Qwen2.5-Coder-1.5B",))


def test_vllm_with_an_api_key_still_says_what_it_is() -> None:
    """vLLM's --api-key guards /v1/* only: /version answers, /v1/models is 401."""
    ident = classify(answers(api_version=(404, NOT_FOUND_FASTAPI), props=(404, NOT_FOUND_FASTAPI),
                             version=(200, {"version": "0.11.0"}),
                             models=(401, {"error": "Unauthorized"})))
    assert (ident.kind, ident.state) == ("vllm", "auth")
    assert "401" in ident.problem and "api_key_env" in ident.problem


def test_lm_studio_and_other_openai_compatible_servers() -> None:
    lm = classify(answers(api_version=(200, {"error": "Unexpected endpoint"}),
                          props=(200, {"error": "Unexpected endpoint"}),
                          version=(200, {"error": "Unexpected endpoint"}),
                          models=(200, listing("qwen2.5-coder-7b-instruct",
                                               owned_by="organization_owner"))))
    assert (lm.kind, lm.label) == ("openai", "LM Studio")
    other = classify(answers(api_version=(404, ""), props=(404, ""), version=(404, ""),
                             models=(200, listing("m1"))))
    assert (other.kind, other.label, other.models) == (
        "openai", "an OpenAI-compatible server", ("m1",))


def test_a_server_that_wants_a_key_everywhere() -> None:
    """llama-server with --api-key answers 401 to every path we ask."""
    ident = classify(everywhere(401, LOCKED))
    assert (ident.kind, ident.state) == ("openai", "auth")
    found = server_for(Candidate(LLAMA), ident)
    assert choose([found])[1] == ("no usable server: 127.0.0.1:8080 (an OpenAI-compatible "
                                  "server) needs an API key (401): set api_key_env (or "
                                  "bearer_token)")


def test_something_else_on_the_port() -> None:
    ident = classify(everywhere(404, "<!doctype html><title>Not Found</title>"))
    assert ident.kind is None and ident.answered and ident.state == "unknown"
    assert ident.problem == ("answered, but not as a model server we know (/api/version 404, "
                             "/props 404, /version 404, /v1/models 404)")


def test_nothing_there() -> None:
    ident = classify({p: Answer(p, None, failure="refused") for p in IDENTIFY_PATHS})
    assert ident.kind is None and not ident.answered and ident.problem == "refused"


def test_a_server_listing_no_model_is_not_usable() -> None:
    ident = classify(answers(api_version=(404, ""), props=(404, ""), version=(404, ""),
                             models=(200, listing())))
    assert (ident.kind, ident.state) == ("openai", "no-model")


# --- choosing a model ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "rank"), [
    ("qwen2.5-coder:1.5b-base", 0), ("deepseek-coder:1.3b-base-q4_0", 0),
    ("codellama:7b-code", 0), ("stable-code:3b-code-q4_0", 0), ("starcoder2:3b", 1),
    ("qwen2.5-coder:7b", 1), ("qwen2.5-coder:7b-instruct", 2), ("codegemma:7b-it", 2),
    ("Qwen/Qwen2.5-Coder-1.5B", 1), ("Qwen/Qwen2.5-Coder-1.5B-Instruct", 2),
])
def test_variant_rank(name: str, rank: int) -> None:
    assert variant_rank(name) == rank


def choose_ollama(*names: str, sizes: dict[str, int] | None = None) -> tuple[str, bool]:
    models = [OllamaModel(n, (sizes or {}).get(n)) for n in names]
    return choose_ollama_model(models, DEFAULT_MODEL, canonical_name)


def test_ollama_coder_models_first_base_variants_first() -> None:
    assert choose_ollama("llama3.2:3b", "qwen2.5-coder:7b-instruct",
                         "deepseek-coder:6.7b-base") == ("deepseek-coder:6.7b-base", True)
    assert choose_ollama("llama3.2:3b", "qwen2.5-coder:7b") == ("qwen2.5-coder:7b", True)


def test_ollama_default_first_among_equals_then_the_smaller() -> None:
    assert choose_ollama("deepseek-coder:1.3b-base", DEFAULT_MODEL) == (DEFAULT_MODEL, True)
    sizes = {"qwen2.5-coder:7b-base": 4_700_000_000, "starcoder2:3b-base": 1_700_000_000}
    assert choose_ollama(*sizes, sizes=sizes) == ("starcoder2:3b-base", True)


def test_ollama_without_a_coder_model_offers_the_default() -> None:
    assert choose_ollama("llama3.2:3b", "nomic-embed-text:latest") == (DEFAULT_MODEL, False)
    assert choose_ollama() == (DEFAULT_MODEL, False)


def test_ollama_tags_are_read_leniently() -> None:
    tags = {"models": [{"name": "a:1", "size": 5}, {"model": "b:2"}, "junk", {"size": 3}]}
    assert ollama_models(tags) == (OllamaModel("a:1", 5), OllamaModel("b:2"))
    assert ollama_models({"error": "x"}) == () and ollama_models(None) == ()


def test_served_model_coder_first_never_an_embedding_model() -> None:
    assert choose_served_model(["text-embedding-nomic-embed-text-v1.5", "llama-3.2-3b-instruct",
                                "qwen2.5-coder-7b-instruct", "qwen2.5-coder-7b"]) \
        == "qwen2.5-coder-7b"
    assert choose_served_model(["llama-3.2-3b-instruct", "gemma-3-4b"]) == "gemma-3-4b"
    assert choose_served_model(["b-instruct", "a-instruct"]) == "b-instruct"  # server order
    assert choose_served_model(["text-embedding-3-small"]) is None
    only_embeddings = server(LMSTUDIO, "openai", models=("text-embedding-3-small",))
    assert only_embeddings.state == "no-model" and not only_embeddings.usable
    assert only_embeddings.describe() == ("127.0.0.1:1234: LM Studio lists only embedding "
                                          "models, none to complete with")


# --- candidates, servers and the choice -------------------------------------------------


def test_candidates_explicit_first_without_repeating_a_default() -> None:
    assert candidates() == tuple(Candidate(u) for u in DEFAULT_CANDIDATES)
    found = candidates("http://localhost:8080/v1/")
    assert found[0] == Candidate("http://localhost:8080/v1", explicit=True)
    assert found[0].root == "http://localhost:8080"
    assert [c.url for c in found[1:]] == [u for u in DEFAULT_CANDIDATES if not u.endswith("8080")]
    assert len(candidates("https://gpu-box:9000")) == 5


def identity(kind: str | None, state: State = "ready", models: tuple[str, ...] = ()) -> Identity:
    labels = {"ollama": "Ollama", "llamacpp": "llama-server", "vllm": "vLLM",
              "openai": "LM Studio", None: "nothing"}
    problems = {"auth": "needs an API key (401): set api_key_env (or bearer_token)",
                "loading": "is still loading its model (503)"}
    return Identity(kind, labels[kind], answered=kind is not None, state=state,  # type: ignore[arg-type]
                    problem=problems.get(state, "refused" if kind is None else ""),
                    models=models)


def server(url: str, kind: str | None, *, explicit: bool = False, state: State = "ready",
           ollama: tuple[str, ...] = (DEFAULT_MODEL,), models: tuple[str, ...] = (GGUF,)) -> Server:
    return server_for(Candidate(url, explicit), identity(kind, state, models),
                      ollama=[OllamaModel(n) for n in ollama], ollama_default=DEFAULT_MODEL,
                      same=canonical_name)


OLLAMA, LLAMA, VLLM, LMSTUDIO = DEFAULT_CANDIDATES


def test_summary_says_what_was_chosen_in_one_line() -> None:
    chosen, reason = choose([server(OLLAMA, None), server(LLAMA, "llamacpp")])
    assert reason == "" and chosen is not None
    assert (chosen.backend, chosen.endpoint, chosen.model, chosen.format) == (
        "llamacpp", LLAMA, GGUF, "qwen")
    assert chosen.summary() == (
        "llama-server at 127.0.0.1:8080, qwen2.5-coder-1.5b-q8_0, format qwen")


def test_two_ready_servers_ollama_first() -> None:
    chosen, _ = choose([server(LLAMA, "llamacpp"), server(OLLAMA, "ollama"),
                        server(LMSTUDIO, "openai", models=("qwen2.5-coder-7b",))])
    assert chosen is not None and chosen.backend == "ollama" and chosen.model == DEFAULT_MODEL


def test_a_ready_server_before_an_ollama_that_needs_a_download() -> None:
    chosen, _ = choose([server(OLLAMA, "ollama", ollama=("llama3.2:3b",)),
                        server(VLLM, "vllm", models=("Qwen/Qwen2.5-Coder-1.5B",))])
    assert chosen is not None and chosen.backend == "vllm"


def test_ollama_without_coder_model_offers_the_default_for_download() -> None:
    chosen, _ = choose([server(OLLAMA, "ollama", ollama=("llama3.2:3b",)), server(LLAMA, None)])
    assert chosen is not None and chosen.download and chosen.model == DEFAULT_MODEL
    assert chosen.summary() == ("Ollama at 127.0.0.1:11434, qwen2.5-coder:1.5b-base, format qwen "
                                "(not on the server yet: offering to download it)")


def test_the_users_endpoint_wins_when_it_answers() -> None:
    chosen, _ = choose([server("http://gpu:9000", "vllm", explicit=True,
                               models=("bigcode/starcoder2-15b",)), server(OLLAMA, "ollama")])
    assert chosen is not None and chosen.endpoint == "http://gpu:9000"
    assert chosen.format == "starcoder"


def test_the_users_endpoint_that_cannot_be_used_is_not_replaced() -> None:
    chosen, reason = choose([server("http://gpu:9000", "vllm", explicit=True, state="auth"),
                             server(OLLAMA, "ollama")])
    assert chosen is None
    assert reason == "gpu:9000 (vLLM) needs an API key (401): set api_key_env (or bearer_token)"


def test_the_users_endpoint_silent_another_is_chosen_and_the_summary_says_so() -> None:
    chosen, _ = choose([server("http://gpu:9000", None, explicit=True), server(OLLAMA, "ollama")])
    assert chosen is not None and chosen.backend == "ollama"
    assert chosen.summary().endswith("; nothing usable at gpu:9000")


def test_no_server_reason_names_every_address() -> None:
    chosen, reason = choose([server(url, None) for url in DEFAULT_CANDIDATES])
    assert chosen is None
    assert reason == ("no server answered at 127.0.0.1:11434, :8080, :8000, :1234; "
                      "start one, or set backend and endpoint")


def test_no_usable_server_reason_names_each_problem() -> None:
    _, reason = choose([server(OLLAMA, None),
                        server(LLAMA, "llamacpp", state="loading", models=()),
                        server(VLLM, "vllm", state="auth"), server(LMSTUDIO, None)])
    assert reason == ("no usable server: 127.0.0.1:8080 (llama-server) is still loading its "
                      "model (503); 127.0.0.1:8000 (vLLM) needs an API key (401): set "
                      "api_key_env (or bearer_token); nothing answered at 127.0.0.1:11434, :1234")


def test_a_loading_llama_server_is_chosen_after_ready_ones_before_a_download() -> None:
    loading = server(LLAMA, "llamacpp", state="loading")
    assert loading.usable and loading.model == GGUF
    chosen, _ = choose([server(OLLAMA, "ollama", ollama=()), loading])
    assert chosen is not None and chosen.backend == "llamacpp" and chosen.loading
    assert chosen.summary().endswith("format qwen (still loading it)")
    chosen, _ = choose([loading, server(VLLM, "vllm", models=("Qwen/Qwen2.5-Coder-1.5B",))])
    assert chosen is not None and chosen.backend == "vllm"


def test_places_shown_short_while_the_host_repeats() -> None:
    places = [Candidate("https://gpu:9000"), *(Candidate(u) for u in DEFAULT_CANDIDATES[:2])]
    assert join_places(places) == "https://gpu:9000, 127.0.0.1:11434, :8080"


def test_short_model_names() -> None:
    assert short_model("/models/qwen2.5-coder-1.5b.gguf") == "qwen2.5-coder-1.5b"
    assert short_model("C:\\models\\x.GGUF") == "x"
    assert short_model("Qwen/Qwen2.5-Coder-1.5B") == "Qwen/Qwen2.5-Coder-1.5B"
    assert short_model(DEFAULT_MODEL) == DEFAULT_MODEL


def test_the_users_model_and_format_are_kept() -> None:
    ollama = server_for(Candidate(OLLAMA), identity("ollama"), wanted="codellama:7b-code",
                        ollama=[OllamaModel(DEFAULT_MODEL)], same=canonical_name)
    assert (ollama.model, ollama.state, ollama.format) == ("codellama:7b-code", "download",
                                                           "codellama")
    vllm = server_for(Candidate(VLLM), identity("vllm", models=("a-coder", "qwen2.5-coder-7b")),
                      wanted="a-coder", format_name="starcoder")
    assert (vllm.model, vllm.format) == ("a-coder", "starcoder")


def test_report_lists_every_probe_with_its_answer() -> None:
    probes = (Answer(OLLAMA + "/api/version", 200, {"version": "0.12.0"}, elapsed_ms=1.23),
              Answer(LLAMA + "/props", None, failure="refused"))
    chosen, reason = choose([server(OLLAMA, "ollama")])
    detection = Detection((Candidate(OLLAMA),), probes, (server(OLLAMA, "ollama"),), chosen,
                          reason, 0.5, 1.0)
    report = detection.report()
    assert report["probes"] == [
        {"url": OLLAMA + "/api/version", "answer": '200 {"version":"0.12.0"}', "ms": 1.2},
        {"url": LLAMA + "/props", "answer": "refused", "ms": 0.0}]
    assert report["servers"] == [
        "127.0.0.1:11434: Ollama, model qwen2.5-coder:1.5b-base, format qwen"]
    assert report["chosen"]["backend"] == "ollama"
    assert report["timeouts"] == {"connect_s": 0.5, "read_s": 1.0}
    assert detection.summary() == chosen.summary()  # type: ignore[union-attr]


# --- the choice as a whole -------------------------------------------------------------

KINDS: list[str | None] = [*KIND_ORDER, None]
STATES: list[State] = ["ready", "auth", "loading"]


@st.composite
def server_lists(draw: st.DrawFn) -> list[Server]:
    count = draw(st.integers(0, 6))
    found = []
    for i in range(count):
        kind = draw(st.sampled_from(KINDS))
        state = draw(st.sampled_from(STATES)) if kind is not None else "unknown"
        ollama = tuple(draw(st.lists(st.sampled_from(
            [DEFAULT_MODEL, "llama3.2:3b", "codellama:7b-code"]), max_size=2)))
        found.append(server(f"http://127.0.0.1:{2000 + i}", kind, state=state,
                            explicit=(i == 0 and draw(st.booleans())), ollama=ollama))
    return found


@given(server_lists())
def test_the_choice_is_the_best_usable_server_or_none_with_a_reason(
        servers: list[Server]) -> None:
    chosen, reason = choose(servers)
    usable = [s for s in servers if s.usable]
    explicit = [s for s in servers if s.candidate.explicit and s.identity.kind is not None]
    if chosen is None:
        assert reason
        assert not usable or (explicit and not explicit[0].usable)
        return
    assert reason == ""
    picked = next(s for s in servers if s.candidate.url == chosen.endpoint)
    assert picked.usable and chosen.backend == picked.identity.kind
    if explicit:
        assert picked is explicit[0]
    else:
        tiers = ("ready", "loading", "download")
        key = lambda s: (tiers.index(s.state), KIND_ORDER.index(s.identity.kind))  # noqa: E731
        assert key(picked) == min(key(s) for s in usable)
