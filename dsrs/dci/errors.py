"""DCI errors: the standard's error codes, answered in its acknowledgement shape (`ack_status` ERR)."""

from __future__ import annotations

# The standard's `Error.code` values DSRS answers with.
REQUEST_BAD = "err.request.bad"
REQUEST_FORBIDDEN = "err.request.forbidden"
REQUEST_NOT_FOUND = "err.request.not_found"
VERSION_NOT_SUPPORTED = "err.version.not_supported"
SENDER_URI_INVALID = "err.sender_uri.invalid"
RECEIVER_ID_INVALID = "err.receiver_id.invalid"
SIGNATURE_MISSING = "err.signature.missing"
SIGNATURE_INVALID = "err.signature.invalid"
ENCRYPTION_INVALID = "err.encryption.invalid"

# Reason codes of the standard (header and search/subscribe status reasons), named in error messages.
ACTION_NOT_SUPPORTED = "rjct.action.not_supported"
TOTAL_COUNT_INVALID = "rjct.total_count.invalid"
SEARCH_CRITERIA_INVALID = "rjct.search_criteria.invalid"
FILTER_INVALID = "rjct.filter.invalid"
SORT_INVALID = "rjct.sort.invalid"
PAGINATION_INVALID = "rjct.pagination.invalid"
NOTIFY_TYPES_INVALID = "rjct.notify_types.invalid"
REFERENCE_ID_DUPLICATE = "rjct.reference_id.duplicate"


class DciError(Exception):
    """A request DSRS refuses whole: nothing of it is stored. `code` is the standard's error code."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message[:999]
        self.status = status


class QueryError(ValueError):
    """A query, filter, sort or page DSRS cannot run; `reason` is the standard's status reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
