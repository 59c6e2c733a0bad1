"""Keeps personal data out of logs and dead-letter reasons.

Our own code never puts a name, phone or email into a message; this is the net under it, for a
library that logs a payload or an exception that quotes one. It masks email addresses, phone
numbers, and the values of the registry's personal fields wherever a record is rendered as a dict
or as JSON.
"""

from __future__ import annotations

import logging
import re
from typing import Any

PERSONAL_FIELDS = ("head_of_household_name", "phone", "national_id", "email", "address")
MASK = "[redacted]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Candidates: digits with the separators people write phone numbers with. Only those that look
# like a phone number are masked (see _mask_phone): offsets, counts, dates and ids are left alone.
_PHONE = re.compile(r"(?<![\w.-])\+?\(?\d[\d\s().-]{5,}\d(?![\w-])")
_FIELD = re.compile(
    r"""(["']?(?:{})["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""".format("|".join(PERSONAL_FIELDS))
)


def _mask_phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = sum(char.isdigit() for char in candidate)
    grouped = any(char in candidate for char in " ()-.")
    international = candidate.startswith("+") and digits >= 7
    local = candidate.startswith(("0", "(0")) and digits >= 9
    written_in_groups = grouped and digits >= 9 and candidate.count(".") == 0
    return MASK if international or local or written_in_groups else candidate


def scrub(text: str) -> str:
    text = _FIELD.sub(lambda match: f"{match.group(1)}{match.group(2)[0]}{MASK}{match.group(2)[0]}", text)
    text = _EMAIL.sub(MASK, text)
    return _PHONE.sub(_mask_phone, text)


class ScrubbingRecordFactory:
    """Wraps the logging record factory, so every handler (Faust's and uvicorn's too) gets clean records."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.inner(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        # No arguments left to apply: an empty tuple, since mode's text formatter (Faust's, with
        # DSRS_LOG_FORMAT=text) wraps None into (None,) and would apply that to the message again.
        record.msg, record.args = scrub(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback's text is rendered later from exc_info; render it now, scrubbed.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record


def install_scrubbing() -> None:
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, ScrubbingRecordFactory):
        logging.setLogRecordFactory(ScrubbingRecordFactory(factory))
