import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

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
    ],
)
def test_everything_else_is_permanent(error: BaseException) -> None:
    assert not is_transient(error)
