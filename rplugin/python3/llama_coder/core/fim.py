"""Fill-in-the-middle prompt templates, one per model family, and detection by model name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Order = Literal["psm", "spm"]
ZWSP = "\u200b"  # zero-width space: breaks a control string without changing what shows


@dataclass(frozen=True)
class FimTemplate:
    """How one model family wants prefix and suffix laid out.

    ``order`` is ``psm`` (prefix, suffix, middle) or ``spm`` (suffix first, as
    Codestral). ``server_fim`` says the model family carries FIM tokens a server can
    find in the model's own vocabulary (llama.cpp ``/infill``), so the server may
    build the prompt instead of us.
    """

    name: str
    prefix: str
    suffix: str
    middle: str
    stop: tuple[str, ...]
    order: Order = "psm"
    server_fim: bool = True
    uses_suffix: bool = True
    repo_format: bool = False  # has <|repo_name|>/<|file_sep|> for other files (Qwen)

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt, with the template's control strings defused inside the text.

        Servers that tokenize special tokens from prompt text (llama.cpp /completion,
        Ollama raw, OpenAI-compatible servers) would otherwise take a literal
        ``<|fim_middle|>`` in the buffer for the real thing.
        """
        prefix, suffix = self.defuse(prefix), self.defuse(suffix)
        if not self.uses_suffix:
            return self.prefix + prefix
        if self.order == "spm":
            return f"{self.suffix}{suffix}{self.prefix}{prefix}{self.middle}"
        return f"{self.prefix}{prefix}{self.suffix}{suffix}{self.middle}"

    def defuse(self, text: str) -> str:
        """``text`` with every control string of this template broken by a zero-width
        space after its first character (the model still reads nearly the same)."""
        for token in self.control_strings():
            if token in text:
                text = text.replace(token, token[0] + ZWSP + token[1:])
        return text

    def restore(self, text: str) -> str:
        """Undo :meth:`defuse` in model output, so no zero-width space reaches the buffer."""
        if ZWSP not in text:
            return text
        for token in self.control_strings():
            text = text.replace(token[0] + ZWSP + token[1:], token)
        return text

    def control_strings(self) -> tuple[str, ...]:
        markers = (self.prefix, self.suffix, self.middle, *self.stop)
        return tuple(sorted({m.strip() for m in markers if len(m.strip()) > 1},
                            key=len, reverse=True))


_QWEN_FIM = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
_DS = ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")
_STAR = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")

BUILTIN_TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        FimTemplate(
            "qwen", *_QWEN_FIM,
            stop=("<|endoftext|>", *_QWEN_FIM, "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
                  "<|im_end|>"),
            repo_format=True,
        ),
        FimTemplate(
            "deepseek", *_DS,
            stop=(*_DS, "<｜end▁of▁sentence｜>"),
        ),
        FimTemplate("codellama", "<PRE> ", " <SUF>", " <MID>", stop=("<EOT>", "<END>", "<EOD>")),
        FimTemplate(
            "starcoder", *_STAR,
            stop=("<|endoftext|>", "<file_sep>", *_STAR),
        ),
        FimTemplate(
            "codegemma", *_QWEN_FIM,
            stop=("<|file_separator|>", "<eos>", "<end_of_turn>", *_QWEN_FIM),
        ),
        FimTemplate(
            "codestral", "[PREFIX]", "[SUFFIX]", "", stop=("</s>", "[PREFIX]", "[SUFFIX]"),
            order="spm",
        ),
        FimTemplate(
            "prefix-only", "", "", "", stop=(), server_fim=False, uses_suffix=False,
        ),
    )
}

FALLBACK_TEMPLATE = "prefix-only"

# Ordered: the first pattern that matches the normalised model name wins.
_DETECTION: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"codestral"), "codestral"),
    (re.compile(r"deepseek.*coder|deepseek-?v2.*code"), "deepseek"),
    (re.compile(r"code-?gemma"), "codegemma"),
    (re.compile(r"code-?llama"), "codellama"),
    (re.compile(r"qwen[\d.]*-?coder|qwen.*coder"), "qwen"),
    (re.compile(r"star-?coder|stable-?code|granite.*code|santacoder|refact"), "starcoder"),
    # Families known to have no FIM tokens: continue the prefix, without a warning.
    (re.compile(r"smollm|tinyllama|phi-?\d|gpt-?2"), FALLBACK_TEMPLATE),
)


@dataclass(frozen=True)
class Resolution:
    """The template chosen for a model, and a warning for the user when we guessed."""

    template: FimTemplate
    warning: str | None = None
    guessed: bool = False  # no format given and the model name was not recognised


def normalise_model_name(model: str) -> str:
    """Reduce an Ollama tag, Hugging Face id or GGUF path to a lower-case family string."""
    name = model.strip().replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name.endswith(".gguf"):
        name = name[: -len(".gguf")]
    return name


def detect_template(model: str) -> str | None:
    """The builtin template name for ``model``, or None when the name is not recognised."""
    name = normalise_model_name(model)
    for pattern, template in _DETECTION:
        if pattern.search(name):
            return template
    return None


def resolve_template(
    model: str,
    format_name: str,
    custom: Mapping[str, FimTemplate] | None = None,
) -> Resolution:
    """Pick the template: an explicit ``format`` always wins, else detection, else fallback."""
    templates = {**BUILTIN_TEMPLATES, **(custom or {})}
    if format_name != "auto":
        if format_name in templates:
            return Resolution(templates[format_name])
        return Resolution(
            templates[FALLBACK_TEMPLATE],
            f"unknown format '{format_name}'; using '{FALLBACK_TEMPLATE}'. "
            f"Known formats: {', '.join(sorted(templates))}",
        )
    detected = detect_template(model)
    if detected is not None:
        return Resolution(templates[detected])
    return Resolution(
        templates[FALLBACK_TEMPLATE],
        guessed=True,
        warning=f"cannot tell the FIM format of model '{model}' from its name; completing from the "
        f"prefix only. Set the `format` option (one of {', '.join(sorted(templates))}) "
        "if the model was trained for fill-in-the-middle.",
    )


def custom_template(name: str, spec: Mapping[str, object]) -> FimTemplate:
    """A user template from the config's ``formats`` table (already validated)."""
    stop = spec.get("stop", ())
    order = spec.get("order", "psm")
    return FimTemplate(
        name=name,
        prefix=str(spec.get("prefix", "")),
        suffix=str(spec.get("suffix", "")),
        middle=str(spec.get("middle", "")),
        stop=tuple(str(s) for s in stop) if isinstance(stop, (list, tuple)) else (),
        order="spm" if order == "spm" else "psm",
        server_fim=False,
    )
