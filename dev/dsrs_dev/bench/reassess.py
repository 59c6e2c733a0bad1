"""`dsrs bench reassess`: re-assessing the whole registry when a program version activates.

1. fill: N synthetic households written straight into PostgreSQL with COPY, with their facts and their
   decisions under the shipped programs (deployed first), as if the registry had been running on them;
2. the job: cash-transfer v2 (a lower poverty line) deployed while one worker runs; households per second
   from the activation to the job's end, its flips, and the latency of registrations over the API meanwhile;
3. the PostgreSQL limit: on a copy of the filled database, the job's own steps (the same statements, page
   size, rows and payloads) with every page's decisions made before the clock starts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Row, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from tqdm import tqdm

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.db.engine import create_engine
from dsrs.db.json_text import json_text
from dsrs.db.schema import reassessments
from dsrs.eligibility.reassessment import FIRST_ID, FIRST_SINCE, PAGE, PageCounts, Reassessor
from dsrs.eligibility.records import ASSESSMENT_COLUMNS as STORED_COLUMNS
from dsrs.events.ids import new_uuid
from dsrs.outbox.writer import OutgoingEvent
from dsrs.programs.catalog import ProgramCatalog
from dsrs.programs.deploy import deploy, deploy_files, program_files
from dsrs.programs.versions import compiled, current_versions
from dsrs.rules import Program, assess
from dsrs.rules.facts import household_facts
from dsrs.settings import Settings
from dsrs_dev.bench.environment import with_database
from dsrs_dev.bench.saga import machine, percentile
from dsrs_dev.synthetic import household_fields

PROGRAM_ID = "cash-transfer"
V2_VERSION = "2025.2"
V2_POVERTY_LINE = "50.0"
FILL_CHUNK = 10_000
REGISTRATIONS_PER_SECOND = 5.0
# Households the limit walks on the copy: its rate settles long before, and precomputing costs minutes.
LIMIT_SEGMENT = 200_000
DEPLOYED_BY = "dsrs bench reassess"

HOUSEHOLD_COLUMNS = (
    "id",
    "head_of_household_name",
    "phone",
    "email",
    "address",
    "region",
    "household_size",
    "children_under_5",
    "children_5_to_17",
    "elderly_members",
    "disabled_members",
    "monthly_income",
    "dwelling_rooms",
    "has_electricity",
    "has_piped_water",
    "owns_livestock",
)
FACT_COLUMNS = ("household_id", "household_version", "facts")
# As the job writes them, with the time the fill decided them.
ASSESSMENT_COLUMNS = (*STORED_COLUMNS, "assessed_at")
DECISION_COLUMNS = (
    "household_id",
    "program_id",
    "assessment_id",
    "household_version",
    "policy_version",
    "decision",
    "benefit_amount",
    "assessed_at",
)
Records = dict[str, list[tuple[Any, ...]]]


@dataclass
class ReassessResults:
    machine: dict[str, Any]
    households: int
    page_size: int
    fill_seconds: float
    seconds: float
    households_per_s: float
    done: int
    approved_to_denied: int
    denied_to_approved: int
    benefit_changed: int
    failed: int
    limit_households: int
    limit_households_per_s: float
    ratio: float
    registrations: int
    registrations_decided: int
    registration_p50_ms: float
    registration_p99_ms: float


def v2_content(content: str) -> str:
    """The shipped cash-transfer program with a lower poverty line, as a new version."""
    edited = content.replace('version: "2025.1"', f'version: "{V2_VERSION}"').replace(
        "poverty_line: 60.0", f"poverty_line: {V2_POVERTY_LINE}"
    )
    if edited.count(V2_VERSION) != 1 or f"poverty_line: {V2_POVERTY_LINE}" not in edited:
        raise RuntimeError("the shipped cash-transfer program no longer has the version and poverty line edited here")
    return edited


# Compiled once per fill process, by content hash.
_compiled: dict[str, Program] = {}


def _programs(versions: Sequence[tuple[str, str]]) -> list[Program]:
    for content, sha256 in versions:
        if sha256 not in _compiled:
            _compiled[sha256] = compiled(content, sha256, "the program")
    return [_compiled[sha256] for _, sha256 in versions]


def fill_records(task: tuple[int, int, int, tuple[str, ...], tuple[tuple[str, str], ...], datetime]) -> Records:
    """One chunk of households (seeded by its number) with their facts and decisions, as COPY records."""
    seed, number, count, regions, versions, decided_at = task
    rng = random.Random(seed * 1_000_003 + number)  # noqa: S311 - repeatable test data, not secrets
    programs = _programs(versions)
    records: Records = {"households": [], "household_facts": [], "eligibility_assessments": [], "current_decisions": []}
    for _ in range(count):
        household_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        fields = household_fields(rng, regions)
        fields["monthly_income"] = Decimal(str(fields["monthly_income"]))
        records["households"].append((household_id, *(fields[name] for name in HOUSEHOLD_COLUMNS[1:])))
        facts = household_facts(fields)
        records["household_facts"].append((household_id, 1, json_text(facts)))
        for program in programs:
            assessment = assess(program, facts)
            assessment_id = new_uuid()
            score = None if assessment.score is None else Decimal(str(assessment.score))
            records["eligibility_assessments"].append(
                (
                    assessment_id,
                    household_id,
                    1,
                    program.id,
                    program.version,
                    program.content_sha256,
                    assessment.decision,
                    score,
                    assessment.benefit_amount,
                    json_text(assessment.rule_results_json()),
                    # The registration event that caused it, made up.
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    None,
                    decided_at,
                )
            )
            records["current_decisions"].append(
                (
                    household_id,
                    program.id,
                    assessment_id,
                    1,
                    program.version,
                    assessment.decision,
                    assessment.benefit_amount,
                    decided_at,
                )
            )
    return records


COLUMNS = {
    "households": HOUSEHOLD_COLUMNS,
    "household_facts": FACT_COLUMNS,
    "eligibility_assessments": ASSESSMENT_COLUMNS,
    "current_decisions": DECISION_COLUMNS,
}


async def fill_registry(settings: Settings, households: int, seed: int = 1) -> float:
    """Deploy the shipped programs and write `households` households decided under them; seconds taken."""
    started = time.perf_counter()
    engine = create_engine(settings, pool_size=1)
    try:
        now = datetime.now(UTC)
        async with engine.begin() as connection:
            await deploy_files(connection, program_files(settings.programs_dir), DEPLOYED_BY, now, settings.source_name)
            versions = tuple((v.content, v.content_sha256) for v in await current_versions(connection))
            # The fill is what their re-assessments would have decided: those jobs are done.
            await connection.execute(
                update(reassessments)
                .where(reassessments.c.status == "running")
                .values(status="finished", finished_at=now, updated_at=now, done=households, total=households)
            )
        tasks = [
            (seed, number, min(FILL_CHUNK, households - offset), settings.regions, versions, now)
            for number, offset in enumerate(range(0, households, FILL_CHUNK))
        ]
        # Spawned, not forked: this process has an event loop and connections.
        with (
            multiprocessing.get_context("spawn").Pool(os.cpu_count() or 1) as pool,
            tqdm(total=households, desc="filling", unit="household", leave=False) as progress,
        ):
            chunks = pool.imap(fill_records, tasks)
            async with engine.connect() as connection:
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                    async with raw.transaction():
                        for table, records in chunk.items():
                            await raw.copy_records_to_table(table, records=records, columns=COLUMNS[table])
                    progress.update(len(chunk["households"]))
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        async with autocommit.connect() as connection:
            await connection.execute(text("VACUUM ANALYZE"))
            await connection.execute(text("CHECKPOINT"))
    finally:
        await engine.dispose()
    return time.perf_counter() - started


async def copy_database(settings: Settings, source: str, copy: str) -> None:
    """A file copy of `source` (which nothing may be connected to) as `copy`, for the limit to write into."""
    for name in (source, copy):
        if not name.isidentifier():
            raise ValueError(f"database names must be plain identifiers, got {name!r}")
    engine = create_engine(with_database(settings, "postgres"), pool_size=1)
    try:
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {copy} TEMPLATE {source} STRATEGY FILE_COPY"))
    finally:
        await engine.dispose()


async def deploy_v2(engine: AsyncEngine, settings: Settings) -> uuid.UUID:
    """Deploy cash-transfer v2 effective now; the id of the re-assessment its activation started."""
    shipped = dict((path.stem, content) for path, content in program_files(settings.programs_dir))
    async with engine.begin() as connection:
        await deploy(connection, v2_content(shipped[PROGRAM_ID]), DEPLOYED_BY, datetime.now(UTC), settings.source_name)
        job: uuid.UUID = (
            await connection.execute(
                select(reassessments.c.id).where(
                    reassessments.c.program_id == PROGRAM_ID, reassessments.c.version == V2_VERSION
                )
            )
        ).scalar_one()
    return job


async def job_row(connection: AsyncConnection, job: uuid.UUID) -> Row[Any]:
    return (await connection.execute(select(reassessments).where(reassessments.c.id == job))).one()


@dataclass
class Registrations:
    sent: int
    latencies_ms: list[float]


DECIDED = text(
    "SELECT household_id FROM eligibility_assessments WHERE household_id = ANY(CAST(:ids AS uuid[])) "
    "AND program_id = :program AND policy_version = :version"
)


async def register_while(engine: AsyncEngine, settings: Settings, running: asyncio.Event, seed: int) -> Registrations:
    """POST households at REGISTRATIONS_PER_SECOND while `running` is set; each one's time from its POST
    to its assessment under v2 being in PostgreSQL (polled every 0.1 s)."""
    token = issue_token(settings, [Role.REGISTRAR], ttl_seconds=3600, subject="bench-reassess")
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    posted: dict[str, float] = {}
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    base_url = f"http://127.0.0.1:{settings.web_port}"
    next_post = time.perf_counter()
    # Households still undecided when the job ends get this long before they are left out.
    grace_until: float | None = None
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        while True:
            now = time.perf_counter()
            if running.is_set() and now >= next_post:
                next_post += 1 / REGISTRATIONS_PER_SECOND
                response = await client.post("/api/v1/households", json=household_fields(rng, settings.regions))
                response.raise_for_status()
                posted[response.json()["id"]] = now
            # Decided households leave `posted`: every one left is pending.
            pending = list(posted)
            if pending:
                async with engine.connect() as connection:
                    found = await connection.execute(
                        DECIDED, {"ids": pending, "program": PROGRAM_ID, "version": V2_VERSION}
                    )
                    seen_at = time.perf_counter()
                    for row in found:
                        latencies.append((seen_at - posted.pop(str(row.household_id))) * 1000)
            if not running.is_set():
                grace_until = grace_until or time.perf_counter() + 30
                if not posted or time.perf_counter() > grace_until:
                    return Registrations(len(latencies) + len(posted), latencies)
            await asyncio.sleep(0.1)


async def wait_finished(engine: AsyncEngine, job: uuid.UUID, poll_seconds: float = 1.0) -> Row[Any]:
    with tqdm(desc="re-assessed", unit="household", leave=False) as progress:
        while True:
            async with engine.connect() as connection:
                row = await job_row(connection, job)
            progress.total = row.total or None
            progress.n = row.done
            progress.refresh()
            if row.status != "running":
                return row
            await asyncio.sleep(poll_seconds)


async def measure_job(settings: Settings, seed: int = 2) -> tuple[Row[Any], Registrations]:
    """Deploy v2 with the worker running; the finished job's row, and the registrations made meanwhile."""
    engine = create_engine(settings, pool_size=2)
    try:
        job = await deploy_v2(engine, settings)
        running = asyncio.Event()
        running.set()
        registering = asyncio.create_task(register_while(engine, settings, running, seed))
        try:
            row = await wait_finished(engine, job)
        finally:
            running.clear()
        registrations = await registering
    finally:
        await engine.dispose()
    if row.status != "finished":
        raise RuntimeError(f"the re-assessment ended {row.status}, not finished")
    return row, registrations


Decided = tuple[PageCounts, list[dict[str, Any]], list[OutgoingEvent | None]]


class Predecided(Reassessor):
    """The job's own steps, with each page's decisions made beforehand: what is left is the database's work."""

    def __init__(self, engine: AsyncEngine, source: str, page_size: int, pages: dict[uuid.UUID, Decided]) -> None:
        super().__init__(engine, ProgramCatalog(), source, page_size)
        self.pages = pages

    def _decide(self, page: Sequence[Row[Any]], program: Program, job_id: str) -> Decided:
        return self.pages.pop(page[0].id)


async def predecide(engine: AsyncEngine, settings: Settings, households: int, page_size: int) -> Predecided:
    """Read the first `households` households page by page, as the job reads them, and decide them."""
    catalog = ProgramCatalog()
    deciding = Reassessor(engine, catalog, settings.source_name, page_size)
    pages: dict[uuid.UUID, Decided] = {}
    cursor = FIRST_ID
    async with engine.connect() as connection:
        program = (await catalog.active(connection))[PROGRAM_ID]
        job = str(
            (
                await connection.execute(select(reassessments.c.id).where(reassessments.c.version == V2_VERSION))
            ).scalar_one()
        )
        with tqdm(total=households, desc="deciding the limit's pages", unit="household", leave=False) as progress:
            while len(pages) * page_size < households:
                parameters = {
                    "program": PROGRAM_ID,
                    "version": V2_VERSION,
                    "cursor": cursor,
                    "since": FIRST_SINCE,
                    "page": page_size,
                }
                page = (await connection.execute(PAGE, parameters)).all()
                if not page:
                    break
                pages[page[0].id] = deciding._decide(page, program, job)
                cursor = page[-1].id
                progress.update(len(page))
    return Predecided(engine, settings.source_name, page_size, pages)


async def reassess_limit(settings: Settings, households: int, page_size: int) -> tuple[int, float]:
    """On a copy of the filled registry: households per second of the job's steps without deciding."""
    engine = create_engine(settings, pool_size=1)
    try:
        job = await deploy_v2(engine, settings)
        stepper = await predecide(engine, settings, households, page_size)
        pages = len(stepper.pages)
        started = time.perf_counter()
        while stepper.pages:
            await stepper.step()
        seconds = time.perf_counter() - started
        async with engine.connect() as connection:
            done = int((await job_row(connection, job)).done)
    finally:
        await engine.dispose()
    if not done or pages == 0:
        raise RuntimeError("the limit's job went through no households")
    return done, round(done / seconds, 1)


def results(
    households: int,
    page_size: int,
    fill_seconds: float,
    job: Row[Any],
    registrations: Registrations,
    limit: tuple[int, float],
) -> ReassessResults:
    seconds = max((job.finished_at - job.started_at).total_seconds(), 1e-3)
    rate = round(job.done / seconds, 1)
    latencies = registrations.latencies_ms
    return ReassessResults(
        machine=machine(),
        households=households,
        page_size=page_size,
        fill_seconds=round(fill_seconds, 1),
        seconds=round(seconds, 2),
        households_per_s=rate,
        done=job.done,
        approved_to_denied=job.approved_to_denied,
        denied_to_approved=job.denied_to_approved,
        benefit_changed=job.benefit_changed,
        failed=job.failed,
        limit_households=limit[0],
        limit_households_per_s=limit[1],
        ratio=round(rate / limit[1], 3),
        registrations=registrations.sent,
        registrations_decided=len(latencies),
        registration_p50_ms=round(percentile(latencies, 0.50), 1),
        registration_p99_ms=round(percentile(latencies, 0.99), 1),
    )


def results_lines(figures: ReassessResults) -> Iterator[str]:
    yield f"{figures.households:,} households filled in {figures.fill_seconds:,.1f}s (not measured)"
    yield (
        f"re-assessment of {figures.done:,} households (pages of {figures.page_size}): {figures.seconds:,.1f}s, "
        f"{figures.households_per_s:,.0f} households/s"
    )
    yield (
        f"flipped: {figures.approved_to_denied:,} approved->denied, {figures.denied_to_approved:,} denied->approved, "
        f"{figures.benefit_changed:,} benefit changed, {figures.failed:,} failed"
    )
    yield (
        f"PostgreSQL limit (same steps, decided beforehand, {figures.limit_households:,} households): "
        f"{figures.limit_households_per_s:,.0f} households/s; job / limit {figures.ratio:.2f}"
    )
    yield (
        f"registrations over the API meanwhile: {figures.registrations_decided}/{figures.registrations} decided "
        f"under v2, p50 {figures.registration_p50_ms:,.0f} ms, p99 {figures.registration_p99_ms:,.0f} ms"
    )
