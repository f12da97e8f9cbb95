"""Is a server's model there? A state machine per server and model, and the download.

A model is checked before its server's first request. One that is missing on a
server that can download (Ollama) is offered for download; the question goes to Lua,
which asks when the user is not typing. A model that is missing, declined or whose
download failed is checked again when Lua says the user is back (``recheck``): a
model pulled in a terminal meanwhile is used at once, a failed download is offered
again, and a declined one stays declined unless the user asked (:LlamaCoderStatus).

::

    UNKNOWN --check--> CHECKING --found--> READY
    CHECKING --offer--> ASKING --download--> PULLING --pulled--> UNKNOWN
    CHECKING --absent--> MISSING            PULLING --pull failed--> FAILED
    CHECKING --decline--> DECLINED <--decline-- ASKING
    MISSING, DECLINED, FAILED, ASKING --check--> CHECKING (a recheck)
    CHECKING --check failed--> the state before the check
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from llama_coder.backends.base import ModelCheck, PullProgress
from llama_coder.completer import Completer
from llama_coder.core.errors import LlamaCoderError
from llama_coder.log import LOGGER
from llama_coder.reporter import Reporter


class ModelState(enum.Enum):
    UNKNOWN = "unknown"  # not checked yet, or the server could not be asked
    CHECKING = "checking"
    READY = "ready"
    ASKING = "asking"  # the download question is with the user
    PULLING = "pulling"
    DECLINED = "declined"  # "Not now" or "Never for this model"
    MISSING = "missing"  # not there, and the server cannot download it
    FAILED = "failed"  # a download failed: offered again at the next recheck


class ModelEvent(enum.Enum):
    CHECK = "check"
    CHECK_FAILED = "check failed"
    FOUND = "found"
    ABSENT = "absent"
    OFFER = "offer"
    DOWNLOAD = "download"
    DECLINE = "decline"
    PULLED = "pulled"
    PULL_FAILED = "pull failed"


S, E = ModelState, ModelEvent
# Not usable for requests, and worth a look when the user comes back (a model pulled
# in a terminal while the question waited makes the question moot).
RECHECKED = frozenset({S.MISSING, S.DECLINED, S.FAILED, S.ASKING})
TRANSITIONS: dict[tuple[ModelState, ModelEvent], ModelState] = {
    **{(state, E.CHECK): S.CHECKING for state in (S.UNKNOWN, *RECHECKED)},
    (S.CHECKING, E.FOUND): S.READY,
    (S.CHECKING, E.ABSENT): S.MISSING,
    (S.CHECKING, E.OFFER): S.ASKING,
    (S.CHECKING, E.DECLINE): S.DECLINED,
    (S.ASKING, E.DOWNLOAD): S.PULLING,
    (S.ASKING, E.DECLINE): S.DECLINED,
    (S.PULLING, E.PULLED): S.UNKNOWN,
    (S.PULLING, E.PULL_FAILED): S.FAILED,
}


class InvalidTransition(ValueError):
    pass


@dataclass
class ModelRecord:
    """What is known about one model on one server."""

    state: ModelState = ModelState.UNKNOWN
    before_check: ModelState = ModelState.UNKNOWN
    model: str = ""  # the name the server was asked about
    asked: bool = False  # the download question was asked this session
    message: str = ""  # what the last check said about a missing model
    # Done when the check under way ends (requests that come meanwhile wait for it).
    checking: asyncio.Future[None] | None = None

    def fire(self, event: ModelEvent) -> ModelState:
        new: ModelState | None = TRANSITIONS.get((self.state, event))
        if event is ModelEvent.CHECK_FAILED and self.state is ModelState.CHECKING:
            new = self.before_check
        if new is None:
            raise InvalidTransition(f"{event.value} in state {self.state.value}")
        if event is ModelEvent.CHECK:
            self.before_check = self.state
        if new is ModelState.ASKING:
            self.asked = True
        self.state = new
        return new

    def after_absent(self, can_pull: bool, user_asked: bool) -> ModelEvent:
        """What a check that found no model leads to: the question is asked once a
        session, again after a failed download, and whenever the user asks."""
        if not can_pull:
            return ModelEvent.ABSENT
        if self.before_check is ModelState.ASKING:
            return ModelEvent.OFFER  # the question is still with the user
        if not self.asked or self.before_check is ModelState.FAILED or user_asked:
            return ModelEvent.OFFER
        return ModelEvent.DECLINE


def model_key(completer: Completer) -> str:
    cfg = completer.config
    return f"{cfg.backend}|{cfg.resolved_endpoint}|{cfg.model}"


def missing_hint(completer: Completer, model: str) -> str:
    """What the status line says after ``model missing:``."""
    # Only Ollama downloads models, and its command line is named like the backend.
    return f"{completer.config.backend} pull {model}" if completer.backend.capabilities.can_pull \
        else model


class Readiness:
    """The records of every server's model, the checks, the question and the pull."""

    def __init__(self, report: Reporter,
                 spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.report = report
        self._spawn = spawn
        self._records: dict[str, ModelRecord] = {}
        self._completers: dict[str, Completer] = {}  # key -> its completer, for rechecks
        self._asking: dict[str, str] = {}  # model name -> the key whose question is open

    def clear(self) -> None:
        """A new configuration: every model is checked again."""
        self._records.clear()
        self._completers.clear()
        self._asking.clear()

    def record(self, completer: Completer) -> ModelRecord:
        key = model_key(completer)
        self._completers[key] = completer
        return self._records.setdefault(key, ModelRecord())

    def state(self, completer: Completer) -> ModelState:
        return self.record(completer).state

    async def ready(self, completer: Completer) -> bool:
        """May ``completer`` be asked for a completion? Checks the model the first time;
        False while it is being checked, asked about, downloaded, or missing."""
        record = self.record(completer)
        if record.state is ModelState.CHECKING and record.checking is not None:
            # Another request (a warm-up, say) is checking: its answer is this one's. The
            # shield keeps this request's cancellation from cutting the other's check.
            await asyncio.shield(record.checking)
        if record.state is ModelState.UNKNOWN:
            await self._check(completer, record, user_asked=False)
        return record.state is ModelState.READY

    async def _check(self, completer: Completer, record: ModelRecord, user_asked: bool) -> None:
        record.fire(ModelEvent.CHECK)
        done = record.checking = asyncio.get_running_loop().create_future()
        try:
            check = await completer.check_model()  # an unreachable server raises
        except BaseException:
            record.fire(ModelEvent.CHECK_FAILED)  # asked again on the next request
            raise
        finally:
            record.checking = None
            done.set_result(None)
        self._settle(completer, record, check, user_asked)

    def _settle(self, completer: Completer, record: ModelRecord, check: ModelCheck,
                user_asked: bool) -> None:
        record.model = check.model or completer.backend.model
        if check.status in ("present", "unknown"):
            before = record.before_check
            record.fire(ModelEvent.FOUND)
            if before is ModelState.ASKING:
                self._asking.pop(record.model, None)
                self.report.editor.send("model_found", {"model": record.model})
            if before in RECHECKED:
                self.report.notify(f"model {record.model} is on the server now", "info")
            self.report.status("idle")
            return
        event = record.after_absent(completer.backend.capabilities.can_pull, user_asked)
        fresh = record.before_check is ModelState.UNKNOWN
        record.message = check.message
        record.fire(event)
        if record.state is ModelState.ASKING and record.before_check is not ModelState.ASKING:
            self._asking[record.model] = model_key(completer)
            self.report.editor.send("ask_pull", {"model": record.model,
                                                 "message": check.message})
        elif record.state is ModelState.MISSING and fresh:
            self.report.notify(check.message, "error")  # once; the status keeps saying it
        LOGGER.info("model %s: %s", record.model, record.state.value)
        self._show_missing(completer, record)

    def _show_missing(self, completer: Completer, record: ModelRecord) -> None:
        self.report.status("missing", detail=missing_hint(completer, record.model),
                           message=record.message)

    # --- the question and the download --------------------------------------------

    def answer(self, model: str, answer: str) -> None:
        """The user's answer to the download question for ``model``."""
        key = self._asking.pop(model, None)
        record = self._records.get(key) if key is not None else None
        completer = self._completers.get(key) if key is not None else None
        if record is None or completer is None or record.state is not ModelState.ASKING:
            LOGGER.info("ignoring an answer about %s: no question is open", model)
            return
        if answer != "download":
            record.fire(ModelEvent.DECLINE)
            self._show_missing(completer, record)
            return
        record.fire(ModelEvent.DOWNLOAD)
        self._spawn(self._pull(completer, record, model))

    async def _pull(self, completer: Completer, record: ModelRecord, model: str) -> None:
        last_percent = -1

        def progress(p: PullProgress) -> None:
            nonlocal last_percent
            if p.percent is not None and p.percent != last_percent:
                last_percent = p.percent
                self.report.status("downloading", percent=p.percent)

        self.report.status("downloading", percent=0)
        try:
            await completer.backend.pull_model(model, progress)
        except LlamaCoderError as exc:
            self._pull_failed(completer, record, model, str(exc))
            return
        except Exception:
            LOGGER.exception("internal error while pulling %s", model)
            self._pull_failed(completer, record, model, "internal error (see the log file)")
            return
        except asyncio.CancelledError:
            self._pull_failed(completer, record, model, "the engine stopped")
            raise
        record.fire(ModelEvent.PULLED)  # checked again before the next request
        self.report.notify(f"model {model} downloaded", "info")
        self.report.status("idle")

    def _pull_failed(self, completer: Completer, record: ModelRecord, model: str,
                     reason: str) -> None:
        record.fire(ModelEvent.PULL_FAILED)
        message = (f"the download of model {model} failed: {reason}. It is offered again "
                   "when you come back to typing, or with :LlamaCoderStatus")
        record.message = message
        self.report.notify(message, "error")
        LOGGER.warning("%s", message)
        self._show_missing(completer, record)

    # --- checking again -------------------------------------------------------------

    def recheck(self, user_asked: bool) -> None:
        """Check again every model that is missing, declined or failed to download."""
        for key, record in list(self._records.items()):
            completer = self._completers.get(key)
            if completer is not None and record.state in RECHECKED:
                self._spawn(self._recheck(completer, record, user_asked))

    async def _recheck(self, completer: Completer, record: ModelRecord, user_asked: bool) -> None:
        try:
            await self._check(completer, record, user_asked)
        except LlamaCoderError as exc:
            LOGGER.info("model check of %s failed: %s", record.model, exc)
