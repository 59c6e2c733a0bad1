from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from dsrs.registry.intake_file import IntakeFile, NotIntakeFile, Rejected, Skipped, Valid

REGIONS = ("R01", "R02")
HOUSEHOLD = "8f6b2c1e-4f5e-4bd0-9c8e-0d1f2a3b4c5d"
OTHER = "0b5c3f0e-4f5e-4bd0-9c8e-0d1f2a3b4c5d"
FIELDS = {"head_of_household_name": "Amina Okafor", "region": "R01", "household_size": 3, "monthly_income": 40}


def outcomes(tmp_path: Path, content: str | bytes, name: str = "households") -> list[Valid | Rejected | Skipped]:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return list(IntakeFile(path, REGIONS, "partner").outcomes())


def line(document: object) -> str:
    return orjson.dumps(document).decode()


def test_json_lines_hold_households_or_whole_messages(tmp_path: Path) -> None:
    envelope = {
        "event_id": "5d0c6a2e-1b7f-4c3a-9e8d-7f6a5b4c3d2e",
        "type": "registry.household.intake",
        "time": "2026-11-29T10:00:00Z",
        "source": "partner-mis",
        "subject": OTHER,
        "schema_version": 1,
        "data": FIELDS,
    }
    content = "\n".join([line({"household_id": HOUSEHOLD, **FIELDS}), "", line(envelope), "[1]", "{no", line(FIELDS)])
    found = outcomes(tmp_path, content)
    assert [type(o).__name__ for o in found] == ["Valid", "Skipped", "Valid", "Rejected", "Rejected", "Rejected"]
    first, _, second, *_ = found
    assert isinstance(first, Valid)
    assert isinstance(second, Valid)
    assert (first.key, second.key) == (HOUSEHOLD.encode(), OTHER.encode())
    assert orjson.loads(first.value)["subject"] == HOUSEHOLD
    assert second.event_id == envelope["event_id"]
    assert [o.line for o in found] == [1, 2, 3, 4, 5, 6]
    last = found[-1]
    assert isinstance(last, Rejected)
    assert [e.field for e in last.errors] == ["household_id"]


def test_a_record_loaded_again_has_the_same_event_id_and_is_skipped_within_a_file(tmp_path: Path) -> None:
    record = line({"household_id": HOUSEHOLD, **FIELDS})
    changed = line({"household_id": HOUSEHOLD, **FIELDS, "monthly_income": 41})
    found = outcomes(tmp_path, "\n".join([record, record, changed]))
    assert [type(o).__name__ for o in found] == ["Valid", "Skipped", "Valid"]
    again = outcomes(tmp_path, record, name="again")
    assert isinstance(found[0], Valid)
    assert isinstance(again[0], Valid)
    assert found[0].event_id == again[0].event_id
    assert isinstance(found[2], Valid)
    assert found[2].event_id != found[0].event_id


def test_csv_cells_are_read_as_the_fields_json_types_and_errors_are_named_as_in_the_file(tmp_path: Path) -> None:
    content = (
        "household_id,head_of_household_name,region,household_size,monthly_income,has_electricity,address\n"
        f"{HOUSEHOLD},Amina Okafor,R01,3,40.5,yes,12 Market Road\n"
        f'{OTHER},Kofi,R01,3,40.5,yes,"12 Market Road\n'
        'second floor"\n'
        "\n"
        f"{{{OTHER}}},Kofi,r01,3.5,abc,maybe,\n"
        f"{OTHER},Kofi,R01\n"
    )
    found = outcomes(tmp_path, content, name="households.csv")
    assert [type(o).__name__ for o in found] == ["Valid", "Rejected", "Skipped", "Rejected", "Rejected"]
    assert [o.line for o in found] == [2, 3, 5, 6, 7]
    valid, two_lines, _, refused, short = found
    assert isinstance(two_lines, Rejected)
    assert [e.field for e in two_lines.errors] == ["address"]
    assert isinstance(valid, Valid)
    data = orjson.loads(valid.value)["data"]
    assert (data["household_size"], data["monthly_income"], data["has_electricity"]) == (3, 40.5, True)
    assert isinstance(refused, Rejected)
    fields = [e.field for e in refused.errors]
    assert fields == ["household_id", "region", "household_size", "monthly_income", "has_electricity"]
    assert isinstance(short, Rejected)
    assert short.errors[0].message == "has 3 cells, the header 7"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"%PDF-1.4\n\xff\xfe", "not UTF-8"),
        ("name,age\nbob,3\n", "unknown columns ['age', 'name']"),
        ("head_of_household_name,region\nA,R01\n", "is not a household's"),
    ],
)
def test_a_file_that_is_not_an_intake_file_says_so(tmp_path: Path, content: str | bytes, why: str) -> None:
    with pytest.raises(NotIntakeFile, match="is neither CSV with a header naming household_id nor JSON lines"):
        outcomes(tmp_path, content)
    with pytest.raises(NotIntakeFile, match=re.escape(why)):
        outcomes(tmp_path, content)


def test_an_empty_file_has_nothing(tmp_path: Path) -> None:
    assert outcomes(tmp_path, "") == []
