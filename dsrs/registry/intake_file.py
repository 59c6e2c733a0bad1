"""A partner's file of households (CSV with a header, or JSON lines) as intake messages, each line checked
against the intake contract before anything is published (`dsrs intake load`).

A record is a household: its fields and its `household_id`. A CSV's columns are those; a JSON line is
such an object, or a whole intake message (envelope) as a partner would publish it. A household record's
event id is derived from its content, so loading the same household again is ignored downstream.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from dsrs.events.envelope import SCHEMA_VERSION
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.registry.household import FieldError, HouseholdFields, InvalidHousehold
from dsrs.registry.intake_schema import parse_intake

HOUSEHOLD_ID = "household_id"
# The namespace of the event ids `dsrs intake load` derives (uuid5): a fixed, arbitrary UUID.
EVENT_ID_NAMESPACE = uuid.UUID("6b1f3c1e-2a4d-5e6f-8a9b-0c1d2e3f4a5b")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


class NotIntakeFile(ValueError):
    """The file is neither CSV with a household header nor JSON lines: nothing in it is read."""


@dataclass(frozen=True)
class Valid:
    line: int
    key: bytes
    value: bytes
    event_id: str


@dataclass(frozen=True)
class Rejected:
    line: int
    errors: list[FieldError]

    def to_json(self) -> bytes:
        return orjson.dumps({"line": self.line, "errors": [error.model_dump() for error in self.errors]})


@dataclass(frozen=True)
class Skipped:
    line: int
    why: str


Outcome = Valid | Rejected | Skipped


@dataclass
class IntakeFile:
    """Reads `path` line by line; `outcomes` says of each record whether it is valid, rejected or skipped."""

    path: Path
    regions: tuple[str, ...]
    source: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def outcomes(self) -> Iterator[Outcome]:
        seen: set[str] = set()
        try:
            with self.path.open(encoding="utf-8-sig", newline="") as text:
                for outcome in self._records(text):
                    if isinstance(outcome, Valid):
                        if outcome.event_id in seen:
                            yield Skipped(outcome.line, "the same record as an earlier line")
                            continue
                        seen.add(outcome.event_id)
                    yield outcome
        except UnicodeDecodeError:
            raise self._not_intake("it is not UTF-8 text") from None

    def _not_intake(self, why: str) -> NotIntakeFile:
        return NotIntakeFile(f"{self.path} is neither CSV with a header naming {HOUSEHOLD_ID} nor JSON lines: {why}")

    def _records(self, text: TextIO) -> Iterator[Outcome]:
        first = text.readline()
        line = 1
        while first and not first.strip():
            yield Skipped(line, "blank")
            first = text.readline()
            line += 1
        if not first:
            return
        if first.lstrip().startswith("{"):
            yield self._json_line(line, first)
            for number, raw in enumerate(text, start=line + 1):
                yield self._json_line(number, raw) if raw.strip() else Skipped(number, "blank")
        else:
            yield from self._csv(text, first, line)

    def _json_line(self, line: int, raw: str) -> Outcome:
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            return Rejected(line, [FieldError(field="(line)", message=f"not JSON: {error.msg}")])
        if isinstance(document, dict) and HOUSEHOLD_ID not in document and {"subject", "data"} <= set(document):
            return self._envelope(line, raw.strip().encode())
        if not isinstance(document, dict):
            return Rejected(line, [FieldError(field="(line)", message="must be a JSON object")])
        return self._household(line, document)

    def _csv(self, text: TextIO, header_line: str, line: int) -> Iterator[Outcome]:
        header = next(csv.reader([header_line]))
        columns = [name.strip() for name in header]
        unknown = sorted(set(columns) - {HOUSEHOLD_ID, *HouseholdFields.model_fields})
        if HOUSEHOLD_ID not in columns or unknown or len(set(columns)) != len(columns):
            why = f"unknown columns {unknown}" if unknown else f"the header {columns[:5]} is not a household's"
            raise self._not_intake(why)
        kinds = _field_kinds()
        rows = csv.reader(text)
        ended = line
        for cells in rows:
            start, ended = ended + 1, line + rows.line_num
            if not any(cell.strip() for cell in cells):
                yield Skipped(start, "blank")
            elif len(cells) != len(columns):
                message = f"has {len(cells)} cells, the header {len(columns)}"
                yield Rejected(start, [FieldError(field="(line)", message=message)])
            else:
                record = {name: _cell(cell, kinds.get(name)) for name, cell in zip(columns, cells, strict=True)}
                yield self._household(start, {name: value for name, value in record.items() if value is not None})

    def _household(self, line: int, record: dict[str, Any]) -> Outcome:
        data = {name: value for name, value in record.items() if name != HOUSEHOLD_ID}
        household_id = record.get(HOUSEHOLD_ID)
        if not isinstance(household_id, str):
            return Rejected(line, [FieldError(field=HOUSEHOLD_ID, message="required: the household's UUID")])
        content = orjson.dumps([household_id, data], option=orjson.OPT_SORT_KEYS)
        event_id = str(uuid.uuid5(EVENT_ID_NAMESPACE, content.decode()))
        envelope = {
            "event_id": event_id,
            "type": HOUSEHOLD_INTAKE,
            "time": self.time.isoformat(),
            "source": self.source,
            "subject": household_id,
            "schema_version": SCHEMA_VERSION,
            "data": data,
        }
        outcome = self._envelope(line, orjson.dumps(envelope))
        if isinstance(outcome, Rejected):
            # Named as the file names them: household_id, and the fields without their place in the envelope.
            return Rejected(line, [FieldError(field=_as_in_file(e.field), message=e.message) for e in outcome.errors])
        return outcome

    def _envelope(self, line: int, value: bytes) -> Outcome:
        try:
            intake = parse_intake(value, self.regions)
        except InvalidHousehold as invalid:
            return Rejected(line, invalid.errors)
        return Valid(line, intake.subject.encode(), value, intake.event_id)


def _as_in_file(field_path: str) -> str:
    return HOUSEHOLD_ID if field_path == "subject" else field_path.removeprefix("data.")


def _field_kinds() -> dict[str, str]:
    """Each household field's JSON type, as the contract says it: what a CSV cell is read as."""
    properties = HouseholdFields.model_json_schema()["properties"]
    kinds: dict[str, str] = {}
    for name, schema in properties.items():
        types = [schema.get("type")] + [choice.get("type") for choice in schema.get("anyOf", [])]
        kinds[name] = next((kind for kind in types if kind in ("integer", "number", "boolean", "string")), "string")
    return kinds


def _cell(cell: str, kind: str | None) -> object:
    """A CSV cell as the JSON value it stands for; one that is not such a value is left as text, and refused
    by the contract with the field's own message. An empty cell is an absent field."""
    text = cell.strip()
    if not text:
        return None
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and _NUMBER.fullmatch(text):
        return float(text)
    if kind == "boolean" and text.lower() in _BOOLEANS:
        return _BOOLEANS[text.lower()]
    return cell
