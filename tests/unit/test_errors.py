import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from dsrs.dlq.causes import CONTENT, PROGRAMS, REGIONS, RELEASE, cause_of
from dsrs.events.envelope import InvalidEvent
from dsrs.registry.household import FieldError, InvalidHousehold
from dsrs.streams.errors import PermanentError, is_transient


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(),
        TimeoutError(),
        OperationalError("SELECT 1", {}, ConnectionError("gone")),
        asyncpg.CannotConnectNowError("starting up"),
    ],
)
def test_unavailability_is_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("bad"),
        ValueError("bad value"),
        KeyError("field"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        # What a message's content can make the database refuse: it would fail the same way again.
        DBAPIError("INSERT", {}, asyncpg.NumericValueOutOfRangeError("numeric field overflow")),
        DBAPIError("INSERT", {}, asyncpg.CharacterNotInRepertoireError("invalid byte sequence")),
    ],
)
def test_everything_else_is_permanent(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_dead_letter_says_what_would_have_to_change_for_it_to_pass() -> None:
    assert cause_of(PermanentError("program 'x' is not configured", PROGRAMS)) == PROGRAMS
    assert cause_of(InvalidEvent("value is not JSON")) == CONTENT
    assert (
        cause_of(InvalidHousehold([FieldError(field="region", message="unknown region code; known: R01")])) == REGIONS
    )
    mixed = [FieldError(field="region", message="unknown region code"), FieldError(field="phone", message="bad")]
    assert cause_of(InvalidHousehold(mixed)) == CONTENT
    assert cause_of(RuntimeError("a bug")) == RELEASE
