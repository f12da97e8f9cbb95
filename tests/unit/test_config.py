from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llama_coder.core.config import (
    OPTIONS,
    SCHEMA,
    Config,
    _check,
    api_key,
    normalise_endpoint,
    parse_config,
)


def default_config() -> Config:
    return parse_config({}).config


def test_defaults_match_llama_coder() -> None:
    cfg = default_config()
    assert cfg.backend == "auto"  # the server is found (detect.py); not one of llama-coder's
    assert cfg.max_lines == 16
    assert cfg.max_tokens == 256
    assert cfg.temperature == 0.2
    assert cfg.notebook.include_markup is True
    assert cfg.notebook.include_cell_outputs is False
    assert cfg.notebook.cell_output_limit == 256
    assert cfg.resolved_endpoint == ""  # auto: no one address
    assert parse_config({"backend": "ollama"}).config.resolved_endpoint == \
        "http://127.0.0.1:11434"


@pytest.mark.parametrize(
    ("backend", "endpoint"),
    [("ollama", "http://127.0.0.1:11434"), ("llamacpp", "http://127.0.0.1:8080"),
     ("vllm", "http://127.0.0.1:8000")],
)
def test_default_endpoint_per_backend(backend: str, endpoint: str) -> None:
    result = parse_config({"backend": backend})
    assert result.problems == []
    assert result.config.resolved_endpoint == endpoint


def test_openai_requires_endpoint() -> None:
    result = parse_config({"backend": "openai"})
    assert any("endpoint is required" in p for p in result.problems)


def test_nested_tables_are_read() -> None:
    result = parse_config({"notebook": {"include_markup": False, "cell_output_limit": 10}})
    assert result.problems == []
    assert result.config.notebook.include_markup is False
    assert result.config.notebook.cell_output_limit == 10


def test_bad_value_names_key_and_falls_back() -> None:
    result = parse_config({"notebook": {"cell_output_limit": "x"}, "max_lines": 0})
    assert result.config.notebook.cell_output_limit == 256
    assert result.config.max_lines == 16
    assert (
        "notebook.cell_output_limit must be an integer >= 0, got 'x'; using the default 256"
    ) in result.problems
    assert any(p.startswith("max_lines must be an integer >= 1, got 0")
               for p in result.problems)


def test_every_problem_is_collected() -> None:
    result = parse_config({"max_tokens": 0, "temperature": "hot", "backend": "ollamma",
                           "notebok": {"include_markup": True}, "max_line": 3})
    text = "\n".join(result.problems)
    assert "max_tokens must be an integer >= 1, got 0" in text
    assert "temperature must be a number from 0 to 2, got 'hot'" in text
    assert "backend must be one of 'auto' | 'ollama' | 'openai' | 'vllm' | 'llamacpp'" in text
    assert "unknown option notebok.include_markup (did you mean notebook.include_markup?)" in text
    assert "unknown option max_line (did you mean max_lines?)" in text
    assert len(result.problems) == 5


def test_bool_is_not_an_integer_and_float_integer_is() -> None:
    assert parse_config({"max_lines": True}).problems
    result = parse_config({"max_lines": 4.0, "temperature": 1})
    assert result.problems == []
    assert result.config.max_lines == 4 and isinstance(result.config.max_lines, int)
    assert result.config.temperature == 1.0


def test_the_keys_only_lua_reads_are_left_to_lua() -> None:
    """One validator per key: lua/llama_coder/config.lua checks and reports these
    (tests/lua/config_portable_spec.lua); the engine neither reports nor stores them."""
    result = parse_config({"delay": -2, "keymap": {"accept": 3}, "filetypes": {"help": "no"},
                           "ui": {"show_info": "yes"}, "stats": {"persist": 1}})
    assert result.problems == []
    assert not hasattr(result.config, "delay") and not hasattr(result.config, "keymap")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  http://h:1/ ", "http://h:1"), ("https://h///", "https://h"), ("", ""),
     ("http://h/api/", "http://h/api")],
)
def test_endpoint_normalised(raw: str, expected: str) -> None:
    assert normalise_endpoint(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["ftp://h", "localhost:8080", "http://", "file:///tmp/x"])
def test_endpoint_not_http_is_rejected(raw: str) -> None:
    result = parse_config({"endpoint": raw})
    assert result.config.endpoint == ""
    assert any("endpoint must be an http:// or https:// URL" in p for p in result.problems)


def test_custom_formats_validated() -> None:
    good = {"mine": {"prefix": "<A>", "suffix": "<B>", "middle": "<C>", "order": "spm",
                     "stop": ["<END>"]}}
    result = parse_config({"formats": good, "format": "mine"})
    assert result.problems == []
    assert result.config.formats["mine"]["order"] == "spm"
    bad = parse_config({"formats": {"mine": {"prefix": 1}}})
    assert any("formats.mine.prefix must be a string" in p for p in bad.problems)
    bad = parse_config({"formats": {"mine": {"order": "x"}}})
    assert any("formats.mine.order must be 'psm' or 'spm'" in p for p in bad.problems)
    assert parse_config({"formats": []}).problems == []  # empty Lua table


def test_schema_and_config_fields_agree() -> None:
    """Every schema key has a Config field and every field a schema key."""
    cfg = default_config()
    fields: set[str] = set()
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            fields.update(f"{f.name}.{sub.name}" for sub in dataclasses.fields(value))
        else:
            fields.add(f.name)
    assert fields == {opt.key for opt in SCHEMA if opt.consumer == "engine"}


def test_schema_entries_are_documented_and_defaults_valid() -> None:
    for opt in SCHEMA:
        assert opt.doc.strip(), opt.key
        assert parse_config(_nest(opt.key, opt.default)).problems == [] or opt.key == "backend"


def _nest(key: str, value: object) -> dict[str, object]:
    head, _, rest = key.partition(".")
    return {head: _nest(rest, value)} if rest else {head: value}


def test_secret_never_in_repr_and_env_wins() -> None:
    cfg = parse_config({"bearer_token": "tok-123", "api_key_env": "MY_KEY"}).config
    assert "tok-123" not in repr(cfg)
    assert api_key(cfg, {"MY_KEY": "env-456"}) == "env-456"
    assert api_key(cfg, {}) == "tok-123"


@pytest.mark.parametrize(("raw", "named"), [
    (None, None), ({}, None), ([], None),
    ({"notebook": 3}, "notebook must be a table of options, got 3"),
    ({"context": {"prefix_lines": None}}, "context.prefix_lines must be an integer"),
    ({1: 2}, "unknown option 1"),
    ({"ui": "yes"}, "ui must be a table of options, got 'yes'"),
])
def test_garbage_input_gives_defaults_and_names_the_key(raw: object, named: str | None) -> None:
    result = parse_config(raw)  # type: ignore[arg-type]
    assert result.config == default_config()
    if named is None:
        assert result.problems == []
    else:
        assert len(result.problems) == 1 and named in result.problems[0]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted({o.key for o in SCHEMA if o.consumer == "engine"}
                              - {"routes", "fallback", "endpoint", "backend"})),
       JSON_VALUES)
def test_any_value_is_taken_or_refused_with_one_message_naming_it(key: str, value: object) -> None:
    """The invariant behind "bad input gets one clear message and loses nothing": a
    value is either used as cleaned, or reported once (naming its key) and the default
    kept; never an exception. (routes, fallback, and endpoint and backend, which are
    checked together, have tests of their own.)"""
    result = parse_config(_nest(key, value))
    cleaned, problem = _check(OPTIONS[key], value)
    section, _, leaf = key.partition(".")
    got = getattr(getattr(result.config, section), leaf) if leaf else \
        getattr(result.config, section)
    if problem is None:
        assert result.problems == []
        assert got == cleaned
    else:
        assert len(result.problems) == 1 and problem in result.problems[0]
        assert got == OPTIONS[key].default


@pytest.mark.parametrize("section", ["ui", "keymap", "timeout", "ollama", "context"])
def test_a_section_given_as_an_empty_table_is_accepted_silently(section: str) -> None:
    result = parse_config({section: []})  # an empty Lua table arrives as an empty list
    assert result.problems == []
    assert result.config == default_config()
    route = parse_config({"routes": {"lua": {"timeout": []}}})
    assert route.problems == []


@pytest.mark.parametrize(("given", "sent"), [
    (-1, -1), ("-1", -1), (" 300 ", 300), ("0", 0), (1.5, 1.5), ("2.5", 2.5), (0, 0),
    ("30m", "30m"), ("-1m", "-1m"), ("1h30m", "1h30m"), ("1.5h", "1.5h"), ("500ms", "500ms"),
    ("+5s", "+5s"), ("2562047h", "2562047h"),
])
def test_keep_alive_takes_what_ollama_parses(given: object, sent: object) -> None:
    result = parse_config({"ollama": {"keep_alive": given}})
    assert result.problems == []
    assert result.config.ollama.keep_alive == sent
    assert type(result.config.ollama.keep_alive) is type(sent)


@pytest.mark.parametrize("given", ["for ever", "5 m", "1d", "m", "", ".m", "-", True,
                                   "2562048h", ["30m"], float("inf")])
def test_keep_alive_that_ollama_would_refuse_names_the_key(given: object) -> None:
    result = parse_config({"ollama": {"keep_alive": given}})
    assert result.config.ollama.keep_alive == "30m"
    assert len(result.problems) == 1
    assert "ollama.keep_alive must be a number of seconds" in result.problems[0]
    assert "duration with a unit such as '30m'" in result.problems[0]


def test_routes_and_fallback_take_server_keys_over_the_top_level() -> None:
    result = parse_config({
        "backend": "ollama", "model": "qwen2.5-coder:1.5b-base", "temperature": 0.1,
        "routes": {"lua": {"backend": "llamacpp"}, "*": {"model": "m", "delay": 3}},
        "fallback": [{"backend": "openai"}, {"endpoint": "http://10.0.0.2:11434/"}],
    })
    routes, fallback = result.config.routes, result.config.fallback
    assert (routes["lua"].backend, routes["lua"].endpoint, routes["lua"].model) == \
        ("llamacpp", "", "")  # another backend: its own default address and model
    assert routes["lua"].temperature == 0.1 and routes["lua"].routes == {}
    assert (routes["*"].backend, routes["*"].model) == ("ollama", "m")
    assert fallback[1].endpoint == "http://10.0.0.2:11434"
    assert any("routes.*.delay: not a server key" in p for p in result.problems)
    assert any("fallback[1].endpoint is required with backend 'openai'" in p
               for p in result.problems)


def test_auto_takes_an_endpoint_as_the_first_place_to_look() -> None:
    result = parse_config({"endpoint": "http://127.0.0.1:9000/"})
    assert result.problems == []
    assert (result.config.backend, result.config.endpoint) == ("auto", "http://127.0.0.1:9000")


def test_auto_routes_follow_the_found_server_and_name_a_kind_for_their_own_endpoint() -> None:
    result = parse_config({
        "model": "m",
        "routes": {"python": {"max_tokens": 8}, "lua": {"backend": "auto"},
                   "c": {"endpoint": "http://10.0.0.3:8080"},
                   "go": {"backend": "llamacpp", "endpoint": "http://10.0.0.3:8080"}},
        "fallback": [{"backend": "auto", "endpoint": "http://10.0.0.4:8000"}],
    })
    routes, fallback = result.config.routes, result.config.fallback
    assert (routes["python"].backend, routes["python"].max_tokens) == ("auto", 8)
    # backend = 'auto' in a table is not another kind of server: the model stays
    assert (routes["lua"].backend, routes["lua"].endpoint, routes["lua"].model) == \
        ("auto", "", "m")
    assert (routes["c"].backend, routes["c"].endpoint) == ("auto", "")
    assert (routes["go"].backend, routes["go"].endpoint) == ("llamacpp", "http://10.0.0.3:8080")
    assert (fallback[0].backend, fallback[0].endpoint) == ("auto", "")
    assert result.problems == [
        f"{where}: name the server kind (backend = 'ollama', 'llamacpp', 'vllm' or 'openai') "
        "for a table with its own endpoint; it follows the server found for the top level "
        "meanwhile" for where in ("routes.c", "fallback[1]")]


def test_auto_in_a_table_needs_auto_at_the_top_level() -> None:
    result = parse_config({"backend": "vllm", "routes": {"lua": {"backend": "auto"}}})
    assert result.config.routes["lua"].backend == "vllm"
    assert result.problems == ["routes.lua.backend 'auto' is for the top level only (a route "
                               "or fallback follows the server found there); using 'vllm'"]
