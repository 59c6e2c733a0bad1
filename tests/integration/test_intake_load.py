"""`dsrs intake load` on the real broker: a file of good and bad lines publishes exactly the good ones, keyed by
household id, and lists exactly the bad ones; a dry run publishes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from tests.integration.conftest import run_dsrs, settings_env
from tests.integration.records import read_records

pytestmark = pytest.mark.integration

GOOD = [str(uuid.uuid4()) for _ in range(3)]
CSV = "\n".join(
    [
        "household_id,head_of_household_name,phone,region,household_size,children_under_5,monthly_income,has_electricity",
        f"{GOOD[0]},Amina Okafor,+254712345678,R01,5,1,180.50,yes",
        f"{GOOD[1]},Kofi Mensah,,R02,2,0,40,no",
        "",
        f"{uuid.uuid4()},Maria Silva,call me,R01,3,0,12,no",
        f"{{{uuid.uuid4()}}},Juan Garcia,,R01,3,0,12,no",
        f"{uuid.uuid4()},Fatima Haddad,,r01,4.5,0,abc,maybe",
        f"{GOOD[0]},Amina Okafor,+254712345678,R01,5,1,180.50,yes",
        f'{GOOD[2]},"Okafor, Ngozi",,R03,1,0,0,',
    ]
)
# Line number: the fields each rejected line is refused for, as the file names them.
REJECTED = {
    5: ["phone"],
    6: ["household_id"],
    7: ["region", "household_size", "monthly_income", "has_electricity"],
}


@pytest.fixture
async def deployment(stack: Stack, settings: Settings) -> AsyncIterator[Settings]:
    """Settings with a topic prefix of their own, its intake topic created with four partitions."""
    own = settings.model_copy(update={"topic_prefix": f"test-{uuid.uuid4().hex[:8]}-"})
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(own.topic(HOUSEHOLD_INTAKE), 4, 1)])
        yield own
        await admin.delete_topics([own.topic(HOUSEHOLD_INTAKE)])
    finally:
        await admin.close()


async def _depth(settings: Settings) -> int:
    """How many messages the intake topic holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(settings.topic(HOUSEHOLD_INTAKE), p) for p in range(4)])
        return sum(ends.values())
    finally:
        await consumer.stop()


def _rejects(path: Path) -> dict[int, list[str]]:
    listed = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return {entry["line"]: [error["field"] for error in entry["errors"]] for entry in listed}


async def test_a_file_of_good_and_bad_lines_publishes_exactly_the_good_ones(
    deployment: Settings, tmp_path: Path
) -> None:
    households = tmp_path / "households.csv"
    households.write_text(CSV)
    env = settings_env(deployment)

    dry = run_dsrs("intake", "load", "--dry-run", str(households), env=env, timeout=60)
    assert dry.returncode == 1, dry.stderr
    assert "dry run: 3 to send, 3 rejected, 2 skipped; nothing sent" in dry.stdout
    assert _rejects(tmp_path / "households.csv.rejects.jsonl") == REJECTED
    assert await _depth(deployment) == 0

    loaded = run_dsrs("intake", "load", str(households), env=env, timeout=60)
    assert loaded.returncode == 1, loaded.stderr
    assert "3 sent, 3 rejected, 2 skipped" in loaded.stdout
    assert _rejects(tmp_path / "households.csv.rejects.jsonl") == REJECTED
    records = await read_records(deployment, deployment.topic(HOUSEHOLD_INTAKE), 3)
    assert await _depth(deployment) == 3
    assert sorted(r.key for r in records if r.key) == sorted(h.encode() for h in GOOD)
    for record in records:
        assert record.value is not None
        message = orjson.loads(record.value)
        assert message["subject"].encode() == record.key
    names = {orjson.loads(r.value or b"{}")["data"]["head_of_household_name"] for r in records}
    assert names == {"Amina Okafor", "Kofi Mensah", "Okafor, Ngozi"}


async def test_a_file_that_is_neither_csv_nor_json_lines_is_one_line_and_nothing_sent(
    deployment: Settings, tmp_path: Path
) -> None:
    spreadsheet = tmp_path / "households.xlsx"
    spreadsheet.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe")
    result = run_dsrs("intake", "load", str(spreadsheet), env=settings_env(deployment), timeout=60)
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        f"dsrs: {spreadsheet} is neither CSV with a header naming household_id nor JSON lines: it is not UTF-8 text"
    ]
    assert result.stdout == ""
    assert await _depth(deployment) == 0
