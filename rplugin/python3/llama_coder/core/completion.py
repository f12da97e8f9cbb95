"""One completion from snapshot to cleaned suggestion, without any I/O.

The engine (or the command-line entry point) asks :func:`plan` for everything a
request needs, streams the server's answer into :meth:`Plan.stopper`, and hands the
result to :meth:`Plan.finish`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from llama_coder.core.config import Config
from llama_coder.core.context_ring import as_comments
from llama_coder.core.fim import FimTemplate
from llama_coder.core.lexer import Lexer, LexerMemo, Syntax, lexer_after
from llama_coder.core.place import in_doc_text, one_line
from llama_coder.core.postprocess import (
    Indentation,
    possible_repeat_start,
    postprocess,
    read_indentation,
)
from llama_coder.core.prompt import Prompt, Snapshot, build_prompt
from llama_coder.core.stopper import Stopper, open_brackets_on_line

# How much text before the cursor line the lexer reads to know whether the cursor
# sits in a string or comment (multi-line strings and block comments).
LEXER_LOOKBACK = 2000
# Alternatives are more samples of the same prompt: they need some randomness.
ALTERNATIVE_TEMPERATURE = 0.8
# The stop string of a one-line suggestion.
NEWLINE = "\n"


@dataclass(frozen=True)
class Request:
    """What a backend needs to ask for one suggestion."""

    prefix: str
    suffix: str
    template: FimTemplate
    max_tokens: int
    temperature: float
    stop: tuple[str, ...]
    extra_context: tuple[tuple[str, str], ...] = ()  # (file name, text) chunks
    # May a server build the FIM prompt from the model's own tokens (llama.cpp
    # /infill)? True for FIM families, and when the format was guessed.
    allow_server_fim: bool = True
    indent: int = 0  # the cursor line's indentation, when the cursor is in it
    context_comment: str = ""  # extra_context as comments, for prompts with no other place
    path: str = ""  # the file's path, for repo-level prompts
    repo: str = ""  # the project's name, for repo-level prompts
    seed: int | None = None  # set for alternatives: another sample of the same prompt
    # The rest of a suggestion whose start streamed in from an earlier request: the
    # model's text so far, put after the prompt (see Backend.can_continue).
    continuation: str = ""
    generated_ms: float = 0.0  # ms since the suggestion's first token, for its rest

    def client_prompt(self) -> str:
        """The FIM prompt built on our side. Other files' chunks go in the model's
        repo-level format where it has one, else as comments before the prefix. A
        continuation goes after it as the model wrote it: the server's prompt cache
        then holds all of the new prompt but what the model had not yet generated."""
        if self.extra_context and self.template.repo_format:
            return repo_prompt(self) + self.continuation
        return (self.template.render(self.context_comment + self.prefix, self.suffix)
                + self.continuation)

    def prefix_with_context(self) -> str:
        """The prefix for servers that build the FIM prompt from prefix and suffix."""
        return self.context_comment + self.prefix


def repo_prompt(request: Request) -> str:
    """Qwen2.5-Coder's repo-level layout: the project, each file, then the FIM prompt."""
    defuse = request.template.defuse
    parts = [f"<|repo_name|>{defuse(request.repo)}\n"]
    for name, text in request.extra_context:
        parts.append(f"<|file_sep|>{defuse(name)}\n{defuse(text)}\n")
    parts.append(f"<|file_sep|>{defuse(request.path)}\n")
    return "".join(parts) + request.template.render(request.prefix, request.suffix)


@dataclass(frozen=True)
class Plan:
    prompt: Prompt
    request: Request
    syntax: Syntax
    max_lines: int
    min_indent: int  # the cursor line's indentation: the suggestion stays in its block
    _lexer: Lexer
    _closable: str
    # One line (see core/place.py). Mid-line or on an empty line, the newline is a
    # stop string, the first one, so servers that take only a few stop strings get it
    # too; after text in a doc comment or docstring (``doc_text``) the stopper ends the
    # suggestion at the end of the line it goes on to, unless the doc text closes.
    one_line: bool = False
    doc_text: bool = False

    def stopper(self) -> Stopper:
        """A fresh stopper for this request's stream."""
        return Stopper(
            self.max_lines,
            stop=self.request.stop,
            lexer=self._lexer.copy(),
            closable=self._closable,
            min_indent=self.min_indent,
            tab_width=self.indentation.tab_width,
            doc_text=self.doc_text,
            first_line_start=self.prompt.line_before,
        )

    def finish(self, text: str, expandtab: bool = True, tabstop: int = 8) -> str | None:
        return postprocess(
            self.request.template.restore(text),
            self.syntax,
            self.prompt.line_before,
            self.prompt.line_after,
            self.prompt.suffix,
            expandtab=expandtab,
            tabstop=tabstop,
            seen=self.indentation,
        )

    def early(self, text: str, expandtab: bool = True, tabstop: int = 8) -> str | None:
        """What of a suggestion still streaming in may be shown now: its complete lines,
        as the final post-processing leaves them (a tail that repeats the text after
        the cursor, which the end may still turn out to be, is held back). None: no
        line yet. The final text starts with every line shown here, so a line once
        shown stays."""
        end = text.rfind("\n")
        if end < 0:
            return None
        shown = self.finish(text[:end], expandtab, tabstop)
        if not shown:
            return None
        # Lines that more lines could still make a repeat of the text after the
        # cursor wait (a repeat of one line counts only at the same indentation, of
        # two whatever the indentation), again before them: a doubled repeat goes too.
        while shown:
            held = shown[: possible_repeat_start(shown, self.prompt.suffix)].rstrip("\n")
            if held == shown:
                break
            shown = held
        return shown or None

    @functools.cached_property
    def indentation(self) -> Indentation:
        """How the buffer indents, read from the prompt once a request needs it."""
        return read_indentation(self.prompt.prefix, self.prompt.suffix)


def plan(
    snapshot: Snapshot,
    config: Config,
    template: FimTemplate,
    allow_server_fim: bool | None = None,
    lexers: LexerMemo | None = None,
    extra: Sequence[tuple[str, str]] = (),
    repo: str = "",
    variant: int = 0,
) -> Plan:
    """Everything one request needs. ``allow_server_fim`` defaults to what the
    template says; pass True when the template was only a guess. ``lexers`` saves
    re-reading the lines before the cursor line from one request to the next."""
    prompt = build_prompt(snapshot, config)
    syntax = Syntax.of(prompt.language)
    before_line = prompt.prefix[: len(prompt.prefix) - len(prompt.line_before)]
    context = before_line[-LEXER_LOOKBACK:]
    newline = context.find("\n")
    if len(before_line) > LEXER_LOOKBACK and newline >= 0:
        context = context[newline + 1 :]  # start the lexer at a line start
    lexer = lexers.after(syntax, context) if lexers is not None else lexer_after(syntax, context)
    closable = open_brackets_on_line(lexer, prompt.line_before, prompt.line_after)
    doc_text = config.multiline == "auto" and in_doc_text(
        lexer, context + prompt.line_before,
        file_start=prompt.from_file_start and len(before_line) <= LEXER_LOOKBACK)
    single = one_line(config.multiline, prompt.line_before, prompt.line_after, syntax,
                      doc_text)
    request = Request(
        prefix=prompt.prefix,
        suffix=prompt.suffix,
        template=template,
        max_tokens=config.max_tokens,
        temperature=max(config.temperature, ALTERNATIVE_TEMPERATURE) if variant
        else config.temperature,
        stop=(NEWLINE, *template.stop) if single else template.stop,
        allow_server_fim=template.server_fim if allow_server_fim is None else allow_server_fim,
        indent=len(prompt.line_before) if not prompt.line_before.strip() else 0,
        extra_context=tuple(extra),
        context_comment=as_comments(extra, prompt.language) if extra else "",
        path=snapshot.path,
        repo=repo,
        seed=variant or None,
    )
    full_line = prompt.line_before + prompt.line_after
    indent = len(full_line) - len(full_line.lstrip(" \t"))
    return Plan(prompt, request, syntax, config.max_lines, indent, lexer, closable,
                single or doc_text, doc_text)
