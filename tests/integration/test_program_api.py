"""Program versions through the API and the command line, on a worker of their own: deploy (created, unchanged,
conflicting, refused), read, schedule, retire, follow the re-assessment an activation starts, list a household's
assessments across versions, and explain an assessment by replaying it."""

from __future__ import annotations

import hashlib
import os
import random
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.rules import DEFAULT_PROGRAMS_DIR
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

REGIONS = ("R01", "R02", "R03")
HOUSEHOLDS = 8
SHIPPED_CASH = (DEFAULT_PROGRAMS_DIR / "cash-transfer.yaml").read_text()
SHIPPED_CHILD = (DEFAULT_PROGRAMS_DIR / "child-grant.yaml").read_text()
# What an assessment listing or an explanation may show: no field of a household's personal data.
PERSONAL = {"head_of_household_name", "phone", "email", "address"}


def cash_transfer(version: str, poverty_line: float = 60.0) -> str:
    content = SHIPPED_CASH.replace('version: "2025.1"', f'version: "{version}"')
    content = content.replace("poverty_line: 60.0", f"poverty_line: {poverty_line}")
    assert content != SHIPPED_CASH or (version, poverty_line) == ("2025.1", 60.0)
    return content


def new_program(program_id: str) -> str:
    """A program of its own: the child grant under another id."""
    return SHIPPED_CHILD.replace("id: child-grant", f"id: {program_id}")


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def yaml_body(content: str) -> dict[str, Any]:
    return {"content": content.encode(), "headers": {"Content-Type": "application/yaml"}}


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    env = {"DSRS_REGIONS": ",".join(REGIONS)}
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("programs"), env) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


@pytest.fixture(scope="module")
async def households(worker: SagaWorker, engine: AsyncEngine) -> list[str]:
    """Households registered through the API and decided under both shipped programs."""
    rng = random.Random(23)
    ids = []
    async with worker.client(Role.REGISTRAR) as client:
        for _ in range(HOUSEHOLDS):
            response = await client.post("/api/v1/households", json=household_fields(rng, REGIONS))
            assert response.status_code == 201, response.text
            ids.append(str(response.json()["id"]))
    await settled(engine, worker, HOUSEHOLDS, 2)
    return ids


async def counts(engine: AsyncEngine) -> dict[str, int]:
    """What a refused or repeated deploy must leave as it was."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM program_versions) AS versions, "
                    "(SELECT count(*) FROM programs) AS programs, "
                    "(SELECT count(*) FROM reassessments) AS reassessments, "
                    "(SELECT count(*) FROM audit_log WHERE resource_type = 'program') AS audited"
                )
            )
        ).one()
    return dict(row._mapping)


async def finished_job(client: httpx.AsyncClient, program_id: str, version: str) -> dict[str, Any]:
    """The re-assessment the activation of this version started, once it is no longer running."""

    async def latest() -> dict[str, Any]:
        response = await client.get(f"/api/v1/programs/{program_id}/reassessments")
        assert response.status_code == 200, response.text
        return dict(response.json()["items"][0])

    job = await eventually(latest, lambda job: job["version"] == version and job["status"] != "running")
    return job


async def test_a_version_deploys_once_and_a_reused_version_is_refused(
    worker: SagaWorker, engine: AsyncEngine, households: list[str]
) -> None:
    content = cash_transfer("2025.2", poverty_line=80.0)
    before = await counts(engine)
    async with worker.client(Role.PROGRAM_OFFICER) as client:
        created = await client.post("/api/v1/programs", **yaml_body(content))
        assert created.status_code == 201, created.text
        shown = created.json()
        assert (shown["program_id"], shown["version"]) == ("cash-transfer", "2025.2")
        assert shown["content_sha256"] == sha256(content)
        assert shown["content"] == content
        assert shown["deployed_by"] == "test-program_officer"
        assert shown["current"] is True
        assert shown["activated_at"] is not None
        assert created.headers["location"] == "/api/v1/programs/cash-transfer/versions/2025.2"
        after_create = await counts(engine)
        assert after_create == {
            **before,
            "versions": before["versions"] + 1,
            "reassessments": before["reassessments"] + 1,
            "audited": before["audited"] + 1,
        }

        again = await client.post("/api/v1/programs", json={"content": content})
        assert again.status_code == 200, again.text
        assert again.json()["content_sha256"] == shown["content_sha256"]
        assert again.json()["activated_at"] == shown["activated_at"]
        assert await counts(engine) == after_create

        other = await client.post("/api/v1/programs", **yaml_body(cash_transfer("2025.2", poverty_line=90.0)))
        assert other.status_code == 409, other.text
        assert other.json()["existing_sha256"] == shown["content_sha256"]
        assert "2025.2" in other.json()["error"]
        assert await counts(engine) == after_create
        stored = await client.get("/api/v1/programs/cash-transfer/versions/2025.2")
        assert stored.json()["content"] == content

        job = await finished_job(client, "cash-transfer", "2025.2")
    assert job["status"] == "finished"
    assert job["done"] == job["total"] == HOUSEHOLDS
    assert job["failed"] == 0
    assert job["finished_at"] is not None
    async with worker.client(Role.AUDITOR) as client:
        one = await client.get(f"/api/v1/programs/cash-transfer/reassessments/{job['id']}")
        assert one.status_code == 200
        assert one.json() == job
        assert (await client.get(f"/api/v1/programs/cash-transfer/reassessments/{uuid.uuid4()}")).status_code == 404
        assert (await client.get("/api/v1/programs/cash-transfer/reassessments/not-an-id")).status_code == 404
        assert (await client.get("/api/v1/programs/no-such/reassessments")).status_code == 404


def _field_error(response: httpx.Response, field: str, *fragments: str) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    matching = [error for error in errors if error["field"] == field]
    assert matching, errors
    for fragment in fragments:
        assert fragment in matching[0]["message"], matching[0]


async def test_a_bad_program_is_refused_naming_what_is_wrong(worker: SagaWorker, engine: AsyncEngine) -> None:
    before = await counts(engine)
    unknown_key = cash_transfer("2025.90").replace("  max: 70.0", "  max: 70.0\n  maximum: 80.0")
    bad_cel = cash_transfer("2025.91").replace("score <= params.pmt_cutoff", "score <= (params.pmt_cutoff")
    inactive = cash_transfer("2025.92").replace("active: true", "active: false")
    valid = cash_transfer("2025.93")
    async with worker.client(Role.ADMIN) as client:
        _field_error(await client.post("/api/v1/programs", **yaml_body("id: [unclosed")), "content", "not valid YAML")
        _field_error(await client.post("/api/v1/programs", **yaml_body(unknown_key)), "content", "benefit", "maximum")
        _field_error(
            await client.post("/api/v1/programs", **yaml_body(bad_cel)), "content", "pmt_score_at_or_below_cutoff"
        )
        _field_error(await client.post("/api/v1/programs", **yaml_body(inactive)), "active")
        _field_error(await client.post("/api/v1/programs", json={"content": 5}), "content")
        _field_error(await client.post("/api/v1/programs", json={"content": valid, "colour": "red"}), "colour")
        _field_error(
            await client.post("/api/v1/programs", json={"content": valid, "effective_from": "tomorrow"}),
            "effective_from",
        )
        _field_error(
            await client.post("/api/v1/programs", json={"content": valid, "effective_from": "2030-01-01T00:00:00"}),
            "effective_from",
            "offset",
        )
        # A version may not start deciding in the past: the current one decided then.
        _field_error(
            await client.post("/api/v1/programs", json={"content": valid, "effective_from": "2001-01-01T00:00:00Z"}),
            "effective_from",
            "in the past",
        )
        _field_error(
            await client.post(
                "/api/v1/programs",
                content=valid.encode(),
                params={"effective_from": "soon"},
                headers={"Content-Type": "text/yaml"},
            ),
            "effective_from",
        )
        surrogate = await client.post(
            "/api/v1/programs", content=b'{"content": "id: \\ud800"}', headers={"Content-Type": "application/json"}
        )
        _field_error(surrogate, "content", "UTF-8")
        _field_error(
            await client.post("/api/v1/programs", content=b"id: \xff", headers={"Content-Type": "application/yaml"}),
            "content",
            "UTF-8",
        )
        nul = await client.post("/api/v1/programs", content=b"id: a\x00", headers={"Content-Type": "application/yaml"})
        _field_error(nul, "content")
        plain = await client.post("/api/v1/programs", content=valid.encode(), headers={"Content-Type": "text/plain"})
        assert plain.status_code == 415, plain.text
        not_json = await client.post("/api/v1/programs", content=b"{", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400, not_json.text
    assert await counts(engine) == before


async def test_a_version_can_be_scheduled_for_later(worker: SagaWorker) -> None:
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    content = new_program("scheduled-grant")
    async with worker.client(Role.PROGRAM_OFFICER) as client:
        response = await client.post(
            "/api/v1/programs", json={"content": content, "effective_from": later.isoformat().replace("+00:00", "Z")}
        )
        assert response.status_code == 201, response.text
        assert response.json()["activated_at"] is None
        assert response.json()["current"] is False
        assert datetime.fromisoformat(response.json()["effective_from"]) == later
        listed = {item["program_id"]: item for item in (await client.get("/api/v1/programs")).json()["items"]}
    assert listed["scheduled-grant"]["current_version"] is None
    assert [v["version"] for v in listed["scheduled-grant"]["versions"]] == ["2025.1"]


async def test_programs_and_versions_read_back(worker: SagaWorker, households: list[str]) -> None:
    async with worker.client(Role.AUDITOR) as client:
        listing = await client.get("/api/v1/programs")
        assert listing.status_code == 200
        programs = {item["program_id"]: item for item in listing.json()["items"]}
        child = programs["child-grant"]
        assert child["retired"] is False
        assert child["current_version"] == "2025.1"
        assert [version["version"] for version in child["versions"]] == ["2025.1"]
        assert "content" not in child["versions"][0]
        assert child["versions"][0]["content_sha256"] == sha256(SHIPPED_CHILD)

        version = await client.get("/api/v1/programs/child-grant/versions/2025.1")
        assert version.status_code == 200
        assert version.json()["content"] == SHIPPED_CHILD
        assert version.json()["content_sha256"] == sha256(SHIPPED_CHILD)
        for missing in ("child-grant/versions/1999.1", "no-such/versions/2025.1", "Child%00/versions/2025.1"):
            response = await client.get(f"/api/v1/programs/{missing}")
            assert response.status_code == 404, (missing, response.text)


async def test_a_program_retires_once(worker: SagaWorker, engine: AsyncEngine) -> None:
    async with worker.client(Role.ADMIN) as client:
        deployed = await client.post("/api/v1/programs", **yaml_body(new_program("retiring-grant")))
        assert deployed.status_code == 201, deployed.text
        # Payment cycles follow the deployed catalog, not the files beside the command.
        opened = run_dsrs("payments", "cycle", "open", "retiring-grant", env=worker.env)
        assert opened.returncode == 0, opened.stderr
        before = await counts(engine)
        retired = await client.post("/api/v1/programs/retiring-grant/retire")
        assert retired.status_code == 200, retired.text
        assert retired.json()["retired"] is True
        assert retired.json()["current_version"] is None
        assert retired.json()["retired_by"] == "test-admin"
        assert (await counts(engine))["audited"] == before["audited"] + 1
        again = await client.post("/api/v1/programs/retiring-grant/retire")
        assert again.status_code == 409, again.text
        assert again.json()["retired_at"] == retired.json()["retired_at"]
        assert (await client.post("/api/v1/programs/no-such-program/retire")).status_code == 404
        assert (await client.post("/api/v1/programs/No%20Such/retire")).status_code == 404
        listed = {item["program_id"]: item for item in (await client.get("/api/v1/programs")).json()["items"]}
    assert listed["retiring-grant"]["retired"] is True
    assert (await counts(engine))["audited"] == before["audited"] + 1
    refused = run_dsrs("payments", "cycle", "open", "retiring-grant", env=worker.env)
    assert refused.returncode == 1
    assert "no active program 'retiring-grant'" in refused.stderr


async def test_only_program_officers_and_admins_change_programs(worker: SagaWorker, engine: AsyncEngine) -> None:
    before = await counts(engine)
    for role in (Role.REGISTRAR, Role.AUDITOR):
        async with worker.client(role) as client:
            refused = await client.post("/api/v1/programs", **yaml_body(new_program(f"refused-{role.value[:5]}")))
            assert refused.status_code == 403, refused.text
            assert (await client.post("/api/v1/programs/child-grant/retire")).status_code == 403
    async with worker.client(Role.ADMIN) as client:
        assert (await client.get("/api/v1/programs")).status_code == 200
        # Operators do not read households' decisions.
        assert (await client.get(f"/api/v1/households/{uuid.uuid4()}/assessments")).status_code == 403
    assert await counts(engine) == before


async def _all_assessments(client: httpx.AsyncClient, household_id: str) -> list[dict[str, Any]]:
    """Every assessment of the household, a page of one at a time."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params = {"limit": "1", **({"after": after} if after else {})}
        response = await client.get(f"/api/v1/households/{household_id}/assessments", params=params)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        after = response.json()["next_after"]
        if after is None:
            return items


async def test_a_households_assessments_span_versions_and_each_replays(
    worker: SagaWorker, households: list[str]
) -> None:
    async with worker.client(Role.PROGRAM_OFFICER) as client:
        deployed = await client.post("/api/v1/programs", **yaml_body(cash_transfer("2025.5", poverty_line=70.0)))
        assert deployed.status_code == 201, deployed.text
        job = await finished_job(client, "cash-transfer", "2025.5")
    household = households[0]
    async with worker.client(Role.AUDITOR) as client:
        assessments = await _all_assessments(client, household)
        assert [a["assessed_at"] for a in assessments] == sorted((a["assessed_at"] for a in assessments), reverse=True)
        assert len({a["id"] for a in assessments}) == len(assessments)
        by_version = {(a["program_id"], a["policy_version"]): a for a in assessments}
        assert {("cash-transfer", "2025.1"), ("child-grant", "2025.1"), ("cash-transfer", "2025.5")} <= set(by_version)
        assert by_version[("cash-transfer", "2025.5")]["reassessment_id"] == job["id"]
        assert by_version[("cash-transfer", "2025.1")]["reassessment_id"] is None
        assert by_version[("cash-transfer", "2025.5")]["program_sha256"] == deployed.json()["content_sha256"]
        for assessment in assessments:
            assert not PERSONAL & set(assessment)
            explained = await client.get(f"/api/v1/assessments/{assessment['id']}/explain")
            assert explained.status_code == 200, explained.text
            shown = explained.json()
            assert shown["reproduced"] is True, shown
            assert shown["differences"] == []
            assert not PERSONAL & set(shown)
            for name in ("decision", "score", "benefit_amount", "rule_results", "program_sha256", "household_version"):
                assert shown[name] == assessment[name], name

        first_page = await client.get(f"/api/v1/households/{household}/assessments", params={"limit": "2"})
        assert first_page.json()["items"] == assessments[:2]
        for query in ({"limit": "0"}, {"limit": "501"}, {"after": "nope"}):
            invalid = await client.get(f"/api/v1/households/{household}/assessments", params=query)
            assert invalid.status_code == 422, (query, invalid.text)
        assert (await client.get(f"/api/v1/households/{uuid.uuid4()}/assessments")).status_code == 404
        assert (await client.get("/api/v1/households/nope/assessments")).status_code == 404
        assert (await client.get(f"/api/v1/assessments/{uuid.uuid4()}/explain")).status_code == 404
        assert (await client.get("/api/v1/assessments/nope/explain")).status_code == 404


async def _mismatches(worker: SagaWorker, program_id: str) -> float:
    async with worker.client(Role.ADMIN) as client:
        scraped = (await client.get("/metrics")).text
    pattern = rf'^dsrs_assessment_replay_mismatches_total\{{program="{re.escape(program_id)}"\}} (\S+)$'
    found = re.search(pattern, scraped, re.MULTILINE)
    return 0.0 if found is None else float(found.group(1))


async def _copy_assessment(engine: AsyncEngine, household_id: str, policy_version: str, changes: str) -> str:
    """A copy of the household's cash-transfer assessment under another policy version label, with `changes`
    (SQL assignments) applied to it: a stored row to explain without touching the real ones."""
    copy_id = str(uuid.uuid4())
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO eligibility_assessments (id, household_id, household_version, program_id, "
                "policy_version, decision, score, benefit_amount, rule_results, source_event_id, program_sha256) "
                "SELECT CAST(:copy AS uuid), household_id, household_version, program_id, :label, decision, score, "
                "benefit_amount, rule_results, source_event_id, program_sha256 FROM eligibility_assessments "
                "WHERE household_id = CAST(:household AS uuid) AND program_id = 'cash-transfer' "
                "AND policy_version = '2025.1'"
            ),
            {"copy": copy_id, "label": policy_version, "household": household_id},
        )
        await connection.execute(
            text(f"UPDATE eligibility_assessments SET {changes} WHERE id = CAST(:copy AS uuid)"), {"copy": copy_id}
        )
    return copy_id


async def test_a_tampered_assessment_does_not_reproduce_and_is_counted(
    worker: SagaWorker, engine: AsyncEngine, households: list[str]
) -> None:
    household = households[1]
    flipped = "jsonb_set(rule_results, '{0,passed}', to_jsonb(NOT (rule_results->0->>'passed')::boolean))"
    tampered = await _copy_assessment(engine, household, "tampered", f"rule_results = {flipped}")
    before = await _mismatches(worker, "cash-transfer")
    async with worker.client(Role.AUDITOR) as client:
        explained = await client.get(f"/api/v1/assessments/{tampered}/explain")
    assert explained.status_code == 200, explained.text
    shown = explained.json()
    assert shown["reproduced"] is False
    assert [difference["field"] for difference in shown["differences"]] == ["rule_results.income_below_poverty_line"]
    difference = shown["differences"][0]
    assert difference["stored"]["passed"] is not difference["replayed"]["passed"]
    assert await _mismatches(worker, "cash-transfer") == before + 1


async def test_an_assessment_from_before_versioning_cannot_be_explained(
    worker: SagaWorker, engine: AsyncEngine, households: list[str]
) -> None:
    legacy = await _copy_assessment(engine, households[2], "legacy", "program_sha256 = NULL")
    async with worker.client(Role.AUDITOR) as client:
        explained = await client.get(f"/api/v1/assessments/{legacy}/explain")
    assert explained.status_code == 409, explained.text
    assert "predates program versioning" in explained.json()["error"]


def _cli_env(worker: SagaWorker) -> dict[str, str]:
    return {**os.environ, **worker.env}


def _one_line(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_the_cli_deploys_shipped_files_once_and_refuses_a_reused_version(worker: SagaWorker, tmp_path: Path) -> None:
    env = _cli_env(worker)
    for _ in range(2):
        shipped = run_dsrs("programs", "deploy", env=env)
        assert shipped.returncode == 0, shipped.stderr
        lines = shipped.stdout.splitlines()
        assert len(lines) == 2, shipped.stdout
        assert lines[0].endswith("cash-transfer 2025.1 unchanged")
        assert lines[1].endswith("child-grant 2025.1 unchanged")

    conflicting = tmp_path / "cash-transfer.yaml"
    conflicting.write_text(cash_transfer("2025.1", poverty_line=99.0))
    refused = run_dsrs("programs", "deploy", str(conflicting), env=env)
    assert refused.returncode == 1
    assert refused.stdout == ""
    _one_line(refused.stderr, str(conflicting), "2025.1", "other content")

    broken = tmp_path / "broken.yaml"
    broken.write_text(cash_transfer("2025.80").replace("currency: USD", "currency: USD\ncolour: blue"))
    bad = run_dsrs("programs", "deploy", str(broken), env=env)
    assert bad.returncode == 1
    _one_line(bad.stderr, str(broken), "colour")


def test_the_cli_schedules_lists_retires_and_follows(worker: SagaWorker, tmp_path: Path) -> None:
    env = _cli_env(worker)
    program = tmp_path / "cli-grant.yaml"
    program.write_text(new_program("cli-grant"))
    later = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
    scheduled = run_dsrs("programs", "deploy", str(program), "--effective-from", later, env=env)
    assert scheduled.returncode == 0, scheduled.stderr
    assert scheduled.stdout.strip() == f"{program}: cli-grant 2025.1 created, scheduled for {later}"
    bad_time = run_dsrs("programs", "deploy", str(program), "--effective-from", "next week", env=env)
    assert bad_time.returncode == 2
    assert "RFC 3339" in bad_time.stderr

    listed = run_dsrs("programs", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    at = lines.index("cli-grant: current none (none activated yet)")
    assert re.match(r"^    2025\.1 +sha256 \w{12} .* activated not yet activated ", lines[at + 1]), lines[at + 1]
    assert "child-grant: current 2025.1" in lines

    retired = run_dsrs("programs", "retire", "cli-grant", env=env)
    assert retired.returncode == 0, retired.stderr
    assert retired.stdout.startswith("cli-grant: retired ")
    again = run_dsrs("programs", "retire", "cli-grant", env=env)
    assert again.returncode == 1
    _one_line(again.stderr, "cli-grant is retired already")
    unknown = run_dsrs("programs", "retire", "no-such-grant", env=env)
    assert unknown.returncode == 1
    _one_line(unknown.stderr, "no program 'no-such-grant'")

    # The worker deployed child-grant at its start, which started its first re-assessment.
    followed = run_dsrs("programs", "reassessment", "child-grant", "--watch", env=env)
    assert followed.returncode == 0, followed.stderr
    last = followed.stdout.splitlines()[-1]
    assert re.match(r"child-grant 2025\.1 re-assessment \S+: finished, \d+/\d+ done, ", last), last
    none = run_dsrs("programs", "reassessment", "cli-grant", env=env)
    assert none.returncode == 1
    _one_line(none.stderr, "no re-assessment of program 'cli-grant'")
