"""The model readiness state machine: every transition, and what a check leads to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llama_coder.readiness import (
    RECHECKED,
    TRANSITIONS,
    InvalidTransition,
    ModelEvent,
    ModelRecord,
    ModelState,
)

S, E = ModelState, ModelEvent


def walk(*events: ModelEvent) -> ModelRecord:
    record = ModelRecord()
    for event in events:
        record.fire(event)
    return record


def test_first_check_finds_the_model() -> None:
    assert walk(E.CHECK, E.FOUND).state is S.READY


def test_missing_model_offered_then_downloaded_is_checked_again() -> None:
    record = walk(E.CHECK, E.OFFER)
    assert record.state is S.ASKING and record.asked
    assert record.fire(E.DOWNLOAD) is S.PULLING
    assert record.fire(E.PULLED) is S.UNKNOWN  # checked before the next request
    assert record.fire(E.CHECK) is S.CHECKING
    assert record.fire(E.FOUND) is S.READY


def test_a_failed_download_can_be_offered_again() -> None:
    record = walk(E.CHECK, E.OFFER, E.DOWNLOAD, E.PULL_FAILED)
    assert record.state is S.FAILED
    record.fire(E.CHECK)
    assert record.after_absent(can_pull=True, user_asked=False) is E.OFFER
    assert record.fire(E.OFFER) is S.ASKING


def test_declined_is_not_asked_again_unless_the_user_asks() -> None:
    record = walk(E.CHECK, E.OFFER, E.DECLINE)
    assert record.state is S.DECLINED
    record.fire(E.CHECK)
    assert record.after_absent(can_pull=True, user_asked=False) is E.DECLINE
    assert record.after_absent(can_pull=True, user_asked=True) is E.OFFER
    assert record.fire(E.DECLINE) is S.DECLINED


def test_declined_model_pulled_in_a_terminal_is_found_on_recheck() -> None:
    record = walk(E.CHECK, E.OFFER, E.DECLINE, E.CHECK)
    assert record.fire(E.FOUND) is S.READY


def test_server_that_cannot_pull_says_missing_and_rechecks() -> None:
    record = walk(E.CHECK)
    assert record.after_absent(can_pull=False, user_asked=True) is E.ABSENT
    assert record.fire(E.ABSENT) is S.MISSING
    assert record.fire(E.CHECK) is S.CHECKING
    assert record.fire(E.FOUND) is S.READY


def test_a_recheck_while_the_question_waits_keeps_it_or_finds_the_model() -> None:
    record = walk(E.CHECK, E.OFFER, E.CHECK)
    assert record.after_absent(can_pull=True, user_asked=False) is E.OFFER
    assert record.fire(E.OFFER) is S.ASKING
    record.fire(E.CHECK)
    assert record.fire(E.FOUND) is S.READY


def test_first_check_offers_the_download_once() -> None:
    record = walk(E.CHECK)
    assert record.after_absent(can_pull=True, user_asked=False) is E.OFFER


@pytest.mark.parametrize("before", [S.UNKNOWN, S.MISSING, S.DECLINED, S.FAILED])
def test_a_check_that_fails_leaves_the_state_it_started_from(before: ModelState) -> None:
    record = ModelRecord(state=before)
    record.fire(E.CHECK)
    assert record.fire(E.CHECK_FAILED) is before


@pytest.mark.parametrize("state", list(ModelState))
@pytest.mark.parametrize("event", list(ModelEvent))
def test_transitions_outside_the_table_are_refused(state: ModelState,
                                                   event: ModelEvent) -> None:
    record = ModelRecord(state=state)
    allowed = (state, event) in TRANSITIONS or (
        event is E.CHECK_FAILED and state is S.CHECKING)
    if allowed:
        record.fire(event)
    else:
        with pytest.raises(InvalidTransition):
            record.fire(event)
        assert record.state is state


def test_only_states_not_usable_for_requests_are_rechecked() -> None:
    assert {S.MISSING, S.DECLINED, S.FAILED, S.ASKING} == RECHECKED
    assert all((state, E.CHECK) in TRANSITIONS for state in RECHECKED)


@given(st.lists(st.sampled_from(list(ModelEvent)), max_size=30))
def test_any_event_sequence_keeps_the_machine_consistent(events: list[ModelEvent]) -> None:
    record = ModelRecord()
    for event in events:
        before = record.state
        try:
            after = record.fire(event)
        except InvalidTransition:
            assert record.state is before
            continue
        # READY is reached only by a check that found the model.
        if after is S.READY:
            assert before is S.CHECKING and event is E.FOUND
        # A download starts only from the question.
        if after is S.PULLING:
            assert before is S.ASKING and event is E.DOWNLOAD
