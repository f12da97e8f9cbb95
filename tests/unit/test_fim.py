from __future__ import annotations

import pytest

from llama_coder.core.fim import (
    BUILTIN_TEMPLATES,
    FALLBACK_TEMPLATE,
    custom_template,
    detect_template,
    resolve_template,
)

P, S = "def f(x):\n    return ", "\n\nprint(f(1))\n"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qwen", "<|fim_prefix|>" + P + "<|fim_suffix|>" + S + "<|fim_middle|>"),
        ("deepseek", "<\uff5cfim\u2581begin\uff5c>" + P + "<\uff5cfim\u2581hole\uff5c>" + S
         + "<\uff5cfim\u2581end\uff5c>"),
        ("codellama", "<PRE> " + P + " <SUF>" + S + " <MID>"),
        ("starcoder", "<fim_prefix>" + P + "<fim_suffix>" + S + "<fim_middle>"),
        ("codegemma", "<|fim_prefix|>" + P + "<|fim_suffix|>" + S + "<|fim_middle|>"),
        ("codestral", "[SUFFIX]" + S + "[PREFIX]" + P),
        ("prefix-only", P),
    ],
)
def test_exact_prompt_bytes(name: str, expected: str) -> None:
    rendered = BUILTIN_TEMPLATES[name].render(P, S)
    assert rendered.encode("utf-8") == expected.encode("utf-8")


def test_deepseek_tokens_use_fullwidth_bar_and_ascii_brackets() -> None:
    t = BUILTIN_TEMPLATES["deepseek"]
    assert t.prefix.encode() == b"<\xef\xbd\x9cfim\xe2\x96\x81begin\xef\xbd\x9c>"
    assert "<\uff5cend\u2581of\u2581sentence\uff5c>" in t.stop


def test_stop_strings() -> None:
    assert "<|file_sep|>" in BUILTIN_TEMPLATES["qwen"].stop
    assert "<|endoftext|>" in BUILTIN_TEMPLATES["qwen"].stop
    assert BUILTIN_TEMPLATES["codellama"].stop == ("<EOT>", "<END>", "<EOD>")
    assert "<file_sep>" in BUILTIN_TEMPLATES["starcoder"].stop
    assert "<|file_separator|>" in BUILTIN_TEMPLATES["codegemma"].stop
    assert "</s>" in BUILTIN_TEMPLATES["codestral"].stop


def test_server_fim_capability() -> None:
    assert BUILTIN_TEMPLATES["qwen"].server_fim
    assert not BUILTIN_TEMPLATES["prefix-only"].server_fim


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("qwen2.5-coder:1.5b-base-q8_0", "qwen"),
        ("qwen3-coder:30b", "qwen"),
        ("Qwen/Qwen2.5-Coder-7B", "qwen"),
        ("/models/qwen2.5-coder-1.5b-q8_0.gguf", "qwen"),
        ("deepseek-coder:6.7b-base", "deepseek"),
        ("deepseek-ai/deepseek-coder-1.3b-base", "deepseek"),
        ("deepseek-coder-v2:16b-lite-base-q4_0", "deepseek"),
        ("codellama:7b-code", "codellama"),
        ("codellama/CodeLlama-7b-hf", "codellama"),
        ("starcoder2:3b", "starcoder"),
        ("bigcode/starcoder2-15b", "starcoder"),
        ("stable-code:3b-code", "starcoder"),
        ("granite-code:3b", "starcoder"),
        ("codegemma:2b-code", "codegemma"),
        ("google/codegemma-2b", "codegemma"),
        ("codestral", "codestral"),
        ("codestral:22b-v0.1-q4_0", "codestral"),
        ("C:\\models\\CodeLlama-7B.Q4_K_M.gguf", "codellama"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "prefix-only"),
    ],
)
def test_detection_from_every_name_shape(model: str, family: str) -> None:
    assert detect_template(model) == family
    assert resolve_template(model, "auto").warning is None


def test_explicit_format_always_wins() -> None:
    assert resolve_template("qwen2.5-coder:1.5b", "starcoder").template.name == "starcoder"


def test_unknown_model_gets_fallback_and_one_warning_naming_format() -> None:
    res = resolve_template("my-finetune:latest", "auto")
    assert res.template.name == FALLBACK_TEMPLATE
    assert res.warning is not None and "`format`" in res.warning


def test_unknown_format_name_warns() -> None:
    res = resolve_template("qwen2.5-coder", "nope")
    assert res.template.name == FALLBACK_TEMPLATE
    assert res.warning and "nope" in res.warning


def test_custom_template_selected_by_name() -> None:
    mine = custom_template("mine", {"prefix": "<A>", "suffix": "<B>", "middle": "<C>",
                                    "order": "spm", "stop": ["<Z>"]})
    res = resolve_template("anything", "mine", {"mine": mine})
    assert res.template.render("p", "s") == "<B>s<A>p<C>"
    assert res.template.stop == ("<Z>",)
    psm = custom_template("x", {"prefix": "<A>", "suffix": "<B>", "middle": "<C>"})
    assert psm.render("p", "s") == "<A>p<B>s<C>"


@pytest.mark.parametrize("name", ["qwen", "deepseek", "codellama", "starcoder", "codegemma",
                                  "codestral"])
def test_buffer_text_cannot_forge_control_tokens(name: str) -> None:
    template = BUILTIN_TEMPLATES[name]
    tokens = template.control_strings()
    assert tokens
    evil_prefix = "x = '" + "".join(tokens) + "'\n"
    evil_suffix = "# " + " ".join(tokens)
    prompt = template.render(evil_prefix, evil_suffix)
    clean = template.render("x = ''\n", "# ")
    for token in tokens:
        # Exactly as many real control strings as a prompt without them in the text.
        assert prompt.count(token) == clean.count(token), token


def test_defused_text_reads_the_same_without_zero_width_spaces() -> None:
    qwen = BUILTIN_TEMPLATES["qwen"]
    text = "if '<|fim_middle|>' in s:"
    assert qwen.defuse(text).replace("\u200b", "") == text
    assert qwen.defuse("plain code") == "plain code"
