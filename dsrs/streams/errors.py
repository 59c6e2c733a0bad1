"""Which failures are worth retrying: an unavailable database, broker or store, or a timeout.

Everything else (a malformed message, a violated invariant, a bug) will fail the same way again,
so the message goes to the dead-letter topic instead of blocking its partition forever.
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError, RequestTimedOutError
from pymongo.errors import AutoReconnect, ConnectionFailure, ExecutionTimeout, NetworkTimeout
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError and socket errors
    TimeoutError,
    PoolTimeout,
    OperationalError,
    InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ExecutionTimeout,
)


class PermanentError(Exception):
    """Raised by a handler for a message that breaks an invariant and cannot succeed as things are.

    `cause` tells the dead-letter reprocess agent what would have to change (dsrs.dlq.causes).
    """

    def __init__(self, message: str, cause: str = "release") -> None:
        super().__init__(message)
        self.dead_letter_cause = cause


def is_transient(error: BaseException) -> bool:
    if isinstance(error, PermanentError):
        return False
    if isinstance(error, _TRANSIENT_TYPES):
        return True
    if isinstance(error, DBAPIError):
        # SQLAlchemy wraps driver errors; judge by what the driver raised, and by a dropped connection.
        if error.connection_invalidated:
            return True
        return error.orig is not None and is_transient(error.orig)
    cause = error.__cause__ or error.__context__
    return cause is not None and cause is not error and is_transient(cause)
