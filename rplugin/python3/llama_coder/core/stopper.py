"""Decides, character by character as the model streams, what to keep and when to stop.

Llama Coder's block stack, improved:

* ``[ ( {`` push, their closers pop. A closer that does not match the top of the
  stack ends the suggestion and is not kept, as does a closer of a block opened
  before the cursor, except one opened earlier on the cursor line that the rest of
  that line does not close: ``print("hi`` may become ``print("hi")``.
* Brackets inside string literals and comments do not count (Llama Coder counts
  them, so ``"(:"`` used to end or derail a suggestion).
* Once the suggestion has ``max_lines`` lines and the stack is empty, the next
  newline ends it. Lines are counted per character, not per network chunk.
* A line indented less than the cursor's line ends the suggestion: it would leave
  the block the user is writing in (Python's next ``def``, YAML's parent key).
* Stop strings are matched across chunk boundaries; characters that might begin a
  stop string are held back until they are known not to, so none ever leak.
* A line that falls into a loop ends the suggestion before that line, which is not
  kept: a unit of 1 to 8 characters, not only whitespace, repeated far past what a
  real line holds (``LOOP_CHARS``), like a small model's ``-n-n-n``.
* Lines that come again right after themselves end the suggestion before the
  repeat, which is not kept: a group of 1 to ``REPEAT_GROUP`` lines said twice, as a
  small model loops over lines (see :class:`RepeatedLines`).
* In doc text (``doc_text``, see core/place.py) the suggestion is one line of text,
  the rest of the cursor's line or the line the model goes on to, until the doc
  text closes: the code after it follows the rules above.

Every decision depends only on the characters seen, never on how they were split
into chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_coder.core.lexer import Lexer

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}

# End-of-text markers a server may spell out at the very end of a stream.
END_MARKERS = ("<EOT>", "<|endoftext|>", "</s>", "<|im_end|>", "<eos>", "<|eot_id|>",
               "<｜end▁of▁sentence｜>", "<|end|>")

# A line has fallen into a loop once its end is one unit of 1 to LOOP_UNIT characters
# (not only whitespace) repeated over at least LOOP_CHARS characters. Real lines hold
# shorter runs: in the Python standard library with site-packages and Neovim's runtime,
# outside tests, the longest is 98 characters of one ("# ====", "# ----"), 95 of a
# longer unit (a C table's "255U, 255U, ..."); only a few rows of one generated table of
# zeros go past. ``-n-n-n`` (a token per unit) then ends after 50 tokens, not 256.
LOOP_UNIT = 8
LOOP_CHARS = 100


# A group of 1 to REPEAT_GROUP complete lines, none blank and with REPEAT_CHARS
# characters or more once each line is stripped, that comes again right after itself is a
# loop over lines (SmolLM2-135M repeats groups of up to 6 lines: a dataclass with its
# decorator and fields). In the Python standard library with site-packages and
# Neovim's runtime, outside tests, such a group lies within the 16 lines after at most
# 0.25 % of the places a suggestion could start, mostly in generated tables of data; a
# line of 16 characters or more equal to any earlier one in those 16 lines, after
# 8.9 %: that is why only a group said twice in a row counts.
REPEAT_GROUP = 8
REPEAT_CHARS = 16


def _may_repeat(group: list[str]) -> bool:
    """Whether ``group``, said twice in a row, counts as a loop: none of its lines is
    blank, and they hold REPEAT_CHARS characters or more once stripped."""
    return all(x.strip() for x in group) and sum(len(x.strip()) for x in group) >= REPEAT_CHARS


class RepeatedLines:
    """The complete lines of a suggestion, watched for a group said twice in a row."""

    def __init__(self, first_line_start: str = "") -> None:
        # The first line is compared whole: the text before the cursor begins it.
        self._start = first_line_start
        self.lines: list[str] = []

    def add(self, line: str) -> int:
        """Take the next complete line. Returns 0, or once the lines end with a group
        said twice, how many lines the second saying has (they are the last ones)."""
        lines = self.lines
        lines.append(((self._start if not lines else "") + line).rstrip())
        n = len(lines)
        for k in range(1, min(REPEAT_GROUP, n // 2) + 1):
            group = lines[n - k:]
            if group == lines[n - 2 * k:n - k] and _may_repeat(group):
                return k
        return 0

    def unsure(self) -> int:
        """How many of the last lines could still turn out to be the start of a
        group's second saying (what a line shown now must not be)."""
        lines, n = self.lines, len(self.lines)
        most = 0
        for k in range(2, REPEAT_GROUP + 1):
            for m in range(min(k - 1, n - k), most, -1):
                first = lines[n - m - k:n - m]  # the group's first saying, all known
                if lines[n - m:] == first[:m] and _may_repeat(first):
                    most = m
                    break
        return most


class LineLoop:
    """Watches the current line, one character at a time, for a loop at its end."""

    def __init__(self) -> None:
        self._line: list[str] = []
        # Per unit length n (index n - 1): how many characters at the line's end equal
        # the one n before them. Empty until the line is long enough to hold a loop.
        self._matches: list[int] = []

    def feed(self, ch: str) -> tuple[int, str] | None:
        """Advance over ``ch``. Returns None, or once the line ends in a loop, the
        loop's length in characters and its unit."""
        line = self._line
        if ch == "\n":
            line.clear()
            self._matches = []
            return None
        line.append(ch)
        end = len(line)
        if end < LOOP_CHARS:
            return None
        matches = self._matches
        if matches:
            for i in range(LOOP_UNIT):
                matches[i] = matches[i] + 1 if line[end - 2 - i] == ch else 0
        else:
            matches.extend(_matches_at_end(line, n) for n in range(1, LOOP_UNIT + 1))
        for n, matched in enumerate(matches, 1):
            if matched + n >= LOOP_CHARS:
                unit = "".join(line[-n:])
                # A unit that repeats a shorter one ("==") never gets here: the shorter
                # one's run is as long, and it is looked at first.
                if not unit.isspace():
                    return matched + n, unit
        return None


def _without_end_markers(text: str) -> str:
    """``text`` without the end-of-text markers a server spelled out at its end."""
    stripped = True
    while stripped:
        stripped = False
        for marker in END_MARKERS:
            if text.endswith(marker):
                text = text[: -len(marker)]
                stripped = True
    return text


def _break_before_last(kept: list[str], lines: int) -> int:
    """Index of the line break before the last ``lines`` lines of ``kept`` (the open
    line counts as one); -1 if there is none."""
    end = len(kept)
    for _ in range(lines):
        end -= 1
        while end >= 0 and kept[end] != "\n":
            end -= 1
    return end


def _matches_at_end(line: list[str], n: int) -> int:
    """How many characters at the end of ``line`` equal the one ``n`` before them."""
    count = 0
    for i in range(len(line) - 1, n - 1, -1):
        if line[i] != line[i - n]:
            break
        count += 1
    return count


class BracketStack:
    """The open brackets of code, fed one character at a time through a lexer."""

    def __init__(self, lexer: Lexer | None) -> None:
        self.lexer = lexer
        self.stack: list[str] = []

    def feed(self, ch: str) -> str | None:
        """Advance over ``ch``. Returns None, or for a closer that does not pop the
        stack, ``"mismatch"`` (another bracket is open) or ``"empty"`` (none is); the
        stack is then left as it was."""
        lexer = self.lexer
        if lexer is not None:
            is_code = lexer.feed(ch)
            retract = lexer.retract
            if retract and retract[-1] in OPENERS and self.stack[-1:] == [retract[-1]]:
                self.stack.pop()  # that "(" began a comment: OCaml's "(*"
            if not is_code:
                return None
        if ch in OPENERS:
            self.stack.append(ch)
        elif ch in CLOSERS:
            if not self.stack:
                return "empty"
            if self.stack[-1] != CLOSERS[ch]:
                return "mismatch"
            self.stack.pop()
        return None


def open_brackets_on_line(lexer: Lexer, line_before: str, line_after: str) -> str:
    """Brackets opened on the cursor line before the cursor that the line does not close.

    ``lexer`` must stand at the start of the cursor line; it is advanced to the cursor.
    Returns the openers, innermost last.
    """
    before = BracketStack(lexer)
    for ch in line_before:
        before.feed(ch)
    opened = before.stack
    # The rest of the line is scanned on a copy: the real lexer must stay at the cursor.
    after = BracketStack(lexer.copy())
    closed_by_rest = 0
    for ch in line_after:
        if after.feed(ch) == "empty":
            index = len(opened) - 1 - closed_by_rest
            if index >= 0 and opened[index] == CLOSERS[ch]:
                closed_by_rest += 1
    return "".join(opened[: len(opened) - closed_by_rest])


class Stopper:
    """Feed chunks with :meth:`feed` until it returns True, then call :meth:`finish`."""

    def __init__(
        self,
        max_lines: int,
        stop: Sequence[str] = (),
        lexer: Lexer | None = None,
        closable: str = "",
        min_indent: int = 0,
        tab_width: int = 1,
        doc_text: bool = False,
        first_line_start: str = "",
    ) -> None:
        self.max_lines = max(1, max_lines)
        # In doc text (see core/place.py) the suggestion is one line of text: line
        # breaks before its first character that is not whitespace do not count, so
        # the line it goes on to is that line. Once the doc text closes (the lexer is
        # back in code), the suggestion may run on as a block.
        self._doc_text = doc_text and lexer is not None
        self._text_seen = False
        self.stop = tuple(s for s in stop if s)
        self._brackets = BracketStack(lexer)
        self._closable = list(closable)
        self._kept: list[str] = []
        self._pending = ""
        self._newlines = 0
        self.min_indent = min_indent
        self.tab_width = tab_width  # what a tab counts for against min_indent
        self._line_indent: int | None = None  # indentation of the current new line so far
        self._loop = LineLoop()
        self._lines = RepeatedLines(first_line_start)
        self._line_start = 0  # where the current line begins in what is kept
        self.done = False
        self.reason = ""
        self._max_stop = max((len(s) for s in self.stop), default=0)

    @property
    def text(self) -> str:
        """What is kept so far (held-back characters excluded)."""
        return "".join(self._kept)

    @property
    def settled(self) -> str:
        """What is kept so far but the lines that could still be taken back (the start
        of a repeat, see :class:`RepeatedLines`) and the line still open."""
        end = _break_before_last(self._kept, self._lines.unsure() + 1)
        return "".join(self._kept[:end + 1]) if end >= 0 else ""

    def feed(self, chunk: str) -> bool:
        """Take more text; True once the suggestion is complete."""
        for ch in chunk:
            if self.done:
                break
            self._feed_char(ch)
        return self.done

    def finish(self) -> str:
        """The final suggestion: held-back text flushed, end markers stripped, lines trimmed."""
        if not self.done:
            pending, self._pending = self._pending, ""
            for ch in pending:
                if self.done:
                    break
                self._commit(ch)
        text = _without_end_markers("".join(self._kept))
        # The last line, ended by the stream or a stop, is complete too (taken once,
        # however often finish() runs).
        last, self._line_start = text[self._line_start:], len(self._kept)
        if last.strip() and self._drop_repeat(last):
            text = "".join(self._kept)
        return "\n".join(line.rstrip() for line in text.split("\n"))

    def _feed_char(self, ch: str) -> None:
        if not self.stop:
            self._commit(ch)
            return
        pending = self._pending + ch
        for s in self.stop:
            if pending.endswith(s):
                for c in pending[: -len(s)]:
                    if self.done:
                        return
                    self._commit(c)
                self._stop(f"stop string {s!r}")
                return
        keep = self._held_back(pending)
        for c in pending[: len(pending) - keep]:
            if self.done:
                return
            self._commit(c)
        self._pending = pending[len(pending) - keep :] if keep else ""

    def _held_back(self, pending: str) -> int:
        """Length of the longest end of ``pending`` that could start a stop string."""
        for k in range(min(len(pending), self._max_stop - 1), 0, -1):
            tail = pending[-k:]
            if any(s.startswith(tail) for s in self.stop):
                return k
        return 0

    def _stop(self, reason: str) -> None:
        self.done = True
        self.reason = reason
        self._pending = ""

    def _drop_repeat(self, line: str) -> bool:
        """Take the complete ``line``; once it ends a group said twice, drop the second
        saying and stop."""
        repeat = self._lines.add(line)
        if repeat:
            del self._kept[max(_break_before_last(self._kept, repeat), 0):]
            self._stop(f"{repeat} line(s) repeated")
        return bool(repeat)

    def _commit(self, ch: str) -> None:
        if ch == "\n" and self._drop_repeat("".join(self._kept[self._line_start:])):
            return
        counts = self._text_seen or not self._doc_text
        limit = 1 if self._doc_text else self.max_lines
        if ch == "\n" and counts and not self._brackets.stack \
                and self._newlines + 1 >= limit:
            self._line_start = len(self._kept)  # that line was taken above
            self._stop("max_lines")
            return
        if not self._text_seen and not ch.isspace():
            self._text_seen = True
        if self._line_indent is not None:
            if ch in " \t":
                self._line_indent += self.tab_width if ch == "\t" else 1
            elif ch != "\n":
                if self._line_indent < self.min_indent and not self._brackets.stack:
                    self._stop("dedent")
                    return
                self._line_indent = None
            else:
                self._line_indent = 0
        unmatched = self._brackets.feed(ch)
        lexer = self._brackets.lexer
        if self._doc_text and lexer is not None and lexer.in_long_text() is None:
            self._doc_text = False  # the doc text closed: code follows
        if unmatched == "mismatch":
            self._stop(f"mismatched {ch!r}")
            return
        if unmatched == "empty":
            if not (self._closable and self._closable[-1] == CLOSERS[ch]):
                self._stop(f"{ch!r} closes a block opened before the cursor")
                return
            self._closable.pop()
        if ch == "\n":
            self._newlines += counts
            self._line_indent = 0
            self._line_start = len(self._kept) + 1
        self._kept.append(ch)
        loop = self._loop.feed(ch)
        if loop is not None:
            # The line goes whole: what came before the loop on it is rarely a line
            # worth accepting (``x = parse("`` would leave a string open).
            del self._kept[max(_break_before_last(self._kept, 1), 0):]
            self._stop(f"loop of {loop[1]!r}")
