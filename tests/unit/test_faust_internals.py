"""The canary for faust-streaming upgrades: what dsrs.streams.faust_internals relies on is still there."""

from __future__ import annotations

from importlib.metadata import version

import faust
import faust.streams
import pytest
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka

from dsrs.streams import faust_internals
from dsrs.streams.faust_internals import HookedConsumer, code_fingerprint, missing_internals

CONSUMER = "faust.transport.drivers.aiokafka.Consumer"


def test_the_installed_faust_has_every_internal_dsrs_relies_on() -> None:
    missing = missing_internals()
    assert missing == [], (
        f"faust-streaming {version('faust-streaming')} (mode-streaming {version('mode-streaming')}) lacks or "
        "changed what dsrs/streams/faust_internals.py relies on; revisit that module:\n"
        + "\n".join(f"  - {name}" for name in missing)
    )


def test_a_private_method_gone_from_faust_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(Consumer, "_add_gap")

    assert missing_internals() == [f"{CONSUMER}._add_gap"]


def test_a_private_attribute_gone_from_faust_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(faust.streams, "_current_event")

    assert missing_internals() == ["faust.streams._current_event (a ContextVar)"]


def test_an_attribute_faust_no_longer_sets_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    relied_on = (*faust_internals.PRIVATE_ATTRIBUTES, (faust.Topic, "_queue_of_old"))
    monkeypatch.setattr(faust_internals, "PRIVATE_ATTRIBUTES", relied_on)

    assert missing_internals() == ["faust.topics.Topic._queue_of_old"]


def test_a_changed_signature_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    async def add_gap(self: Consumer, tp: object, start: int, end: int) -> None: ...

    monkeypatch.setattr(Consumer, "_add_gap", add_gap)

    assert missing_internals() == [
        f"{CONSUMER}._add_gap(self, tp, offset_from, offset_to) (now (self, tp, start, end))"
    ]


def test_a_change_to_the_copied_drain_loop_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # Same signature, other code: the copy in HookedConsumer would no longer be Faust's.
    monkeypatch.setattr(Consumer, "_drain_messages", HookedConsumer._drain_messages)

    [problem] = missing_internals()
    assert problem.startswith(f"{CONSUMER}._drain_messages as copied from faust-streaming 0.15.3")


def test_a_hook_name_faust_takes_for_itself_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiokafka.Consumer, "hand_over", lambda self, message: None, raising=False)

    assert missing_internals() == [f"{CONSUMER}.hand_over (now Faust's own: DSRS's hook needs another name)"]


def test_the_fingerprint_of_faust_code_ignores_comments_and_line_wrapping_only() -> None:
    wrapped = "def larger(a, b):\n    # the larger\n    return max(\n        a,\n        b\n    )\n"
    unwrapped = "    def larger(a, b):\n        return max(a, b)\n"
    changed = "def larger(a, b):\n    return min(a, b)\n"

    assert code_fingerprint(wrapped) == code_fingerprint(unwrapped)
    assert code_fingerprint(wrapped) != code_fingerprint(changed)
