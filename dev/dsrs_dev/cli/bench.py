"""`dsrs bench saga`: throughput and latency of the saga beside the machine's Kafka and PostgreSQL limits."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import FrameType

import click
import httpx
from tqdm import tqdm

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.db.engine import create_engine
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings, load_settings
from dsrs.worker.agents import CONSUMED_TOPICS
from dsrs_dev.bench.api import ApiLatency, fill, lookups, pages, sample_ids
from dsrs_dev.bench.cpu import cpu_seconds, microseconds_per_household
from dsrs_dev.bench.dedup import DedupResults, DedupRun, accuracy, raised_pairs, run_registry
from dsrs_dev.bench.dedup import results_table as dedup_table
from dsrs_dev.bench.environment import (
    delete_topics_of,
    isolated_database,
    isolated_settings,
    start_workers,
    with_database,
)
from dsrs_dev.bench.kafka_limit import kafka_limit, sample_messages
from dsrs_dev.bench.memory import MemoryWatch, memory_profile
from dsrs_dev.bench.postgres_limit import postgres_limit
from dsrs_dev.bench.reassess import (
    LIMIT_SEGMENT,
    copy_database,
    fill_registry,
    measure_job,
    reassess_limit,
    results,
    results_lines,
)
from dsrs_dev.bench.saga import (
    Results,
    Round,
    faust_dispatch_limit,
    machine,
    results_path,
    results_table,
    run_saga,
    write_results,
)
from dsrs_dev.duplicate_registry import DuplicateRegistry, duplicate_registry
from dsrs_dev.errors import one_line_errors
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from dsrs_dev.worker_process import WorkerProcess

RESULTS_DIR = Path("bench/results")
# The full-speed run's households, which the PostgreSQL limit sends through the saga's statements again.
FULL_SPEED_SEED = 1


async def _measure_round(
    settings: Settings, workers: list[WorkerProcess], households: int, warm_up: int, record: Settings, replay: Settings
) -> Round:
    """The saga (warm-up, full speed, half load), then the Kafka, Faust dispatch and PostgreSQL limits."""
    worker, worker_pids = workers[0], [w.pid for w in workers]
    engine = create_engine(settings, pool_size=4)
    programs = len(active_programs(load_programs(settings.programs_dir)))
    admin = issue_token(settings, [Role.ADMIN], ttl_seconds=24 * 3600, subject="bench")
    watch = MemoryWatch(worker.pid, worker.base_url, admin)
    watching = asyncio.Event()
    sampling = asyncio.create_task(watch.run(watching))
    try:
        if warm_up:
            await run_saga(settings, engine, warm_up, programs, seed=0, per_second=None)
        cpu_before = cpu_seconds(worker_pids)
        full = await run_saga(settings, engine, households, programs, seed=FULL_SPEED_SEED, per_second=None)
        cpu = microseconds_per_household(cpu_before, cpu_seconds(worker_pids), households)
        half_rate = full.households_per_second / 2
        half_households = max(1, households // 2)
        half = await run_saga(settings, engine, half_households, programs, seed=2, per_second=half_rate)
        watching.set()
        await sampling
    finally:
        watching.set()
        await engine.dispose()
    produced = full.topic_messages_per_household
    samples = await sample_messages(settings, list(produced))
    consumed = [settings.topic(name) for name in CONSUMED_TOPICS]
    kafka = await kafka_limit(settings, produced, consumed, samples, households)
    with tempfile.TemporaryDirectory(prefix="dsrs-dispatch-") as scratch:
        dispatch = await asyncio.to_thread(
            faust_dispatch_limit, settings, kafka.intake_topic, households, Path(scratch)
        )
    # The households of the full-speed run, through the saga's own statements.
    messages = synthetic_intake(households, settings.regions, seed=FULL_SPEED_SEED, update_share=0, invalid_share=0)
    postgres = await postgres_limit(record, replay, messages, households, len(workers))
    return Round(
        full,
        half,
        kafka,
        postgres,
        dispatch["messages_per_second"],
        dispatch["cpu_microseconds_per_message"],
        memory_profile(watch.samples),
        watch.samples,
        cpu,
    )


@contextmanager
def deployment(
    name: str,
    workers: int,
    prepare: Callable[[Stack, Settings, str], None] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[Stack, Settings, list[WorkerProcess]]]:
    """The stack up, a fresh database, topics and consumer group, and `workers` workers on them;
    `prepare` is given the database (its settings and name) before the workers start."""
    stack = Stack(load_settings())
    stack.up(report=lambda line: None)
    base = stack.local_settings(stack.settings)
    with (
        tempfile.TemporaryDirectory(prefix=f"dsrs-{name}-") as scratch,
        isolated_database(stack, base, f"dsrs_{name.replace('-', '_')}") as database,
    ):
        folder = Path(scratch)
        settings = isolated_settings(base, database, folder / "worker-0", tag=f"{name}-{folder.name[-6:]}")
        try:
            if prepare is not None:
                prepare(stack, settings, database)
            running = start_workers(settings, workers, folder, {"DSRS_LOG_LEVEL": "warning", **(env or {})})
            try:
                yield stack, settings, running
            finally:
                for worker in running:
                    worker.stop()
        finally:
            delete_topics_of(settings)


def _exit_when_terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@click.group()
def bench() -> None:
    """Benchmarks on the real local stack; figures are printed and written to bench/results/."""
    # Stopped by SIGTERM (kill, a timeout), a run still stops its workers and removes its databases and topics.
    signal.signal(signal.SIGTERM, _exit_when_terminated)


@bench.command()
@click.option("--households", default=20_000, show_default=True, help="Households in the full-speed run.")
@click.option(
    "--warm-up",
    type=click.IntRange(min=0),
    default=None,
    help="Households through the saga before anything is measured  [default: a third of --households].",
)
@click.option(
    "--workers",
    default="1",
    show_default=True,
    help="Worker processes in one consumer group; several counts (1,2,3) make one run each.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Rounds of the saga then its limits, each on a fresh deployment; figures are their medians and spread.",
)
@one_line_errors
def saga(households: int, warm_up: int | None, workers: str, repeat: int) -> None:
    """Measure the saga, then the Kafka, Faust dispatch and PostgreSQL limits, `--repeat` times (per worker count)."""
    # The Kafka limit meets a broker JVM that has compiled its hot paths, so the saga is measured warm too.
    warm_up = households // 3 if warm_up is None else warm_up
    counts = _worker_counts(workers)
    by_count = []
    for count in counts:
        rounds = []
        path = results_path(RESULTS_DIR)
        for number in range(1, repeat + 1):
            click.echo(f"round {number} of {repeat}")
            # The PostgreSQL limit is measured over the worker's own route to the server (TCP or socket), on
            # databases of its own: its outbox rows must not reach the workers.
            with (
                deployment("bench", count) as (stack, settings, running),
                isolated_database(stack, settings, "dsrs_bench_record") as record_db,
                isolated_database(stack, settings, "dsrs_bench_replay") as replay_db,
            ):
                record, replay = with_database(settings, record_db), with_database(settings, replay_db)
                rounds.append(asyncio.run(_measure_round(settings, running, households, warm_up, record, replay)))
            # Each round is kept as it ends: a long run stopped later keeps the rounds it finished.
            results = Results(machine(), households, count, warm_up, rounds)
            write_results(results, RESULTS_DIR, path)
        click.echo(results_table(results))
        click.echo(f"figures written to {path}")
        by_count.append((count, results.spread("households_per_s").median))
    if len(by_count) > 1:
        click.echo("workers  households/s at full speed (median)")
        for count, rate in by_count:
            click.echo(f"{count:>7}  {rate:,.0f}")


def _worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise click.BadParameter("expected worker counts such as 2 or 1,2,3", param_hint="--workers")
    return counts


async def _measure_dedup(
    settings: Settings, warm_up: DuplicateRegistry, registry: DuplicateRegistry, matching: bool
) -> DedupRun:
    engine = create_engine(settings, pool_size=2)
    programs = len(active_programs(load_programs(settings.programs_dir)))
    try:
        await run_registry(settings, engine, warm_up, programs, "warm-up")
        label = f"matching {'on' if matching else 'off'}"
        seconds, rate = await run_registry(settings, engine, registry, programs, label)
        found = accuracy(warm_up.pairs | registry.pairs, await raised_pairs(engine)) if matching else None
    finally:
        await engine.dispose()
    return DedupRun(matching, len(registry.messages), seconds, rate, found)


@bench.command()
@click.option("--households", default=10_000, show_default=True, help="Families in the measured registry.")
@click.option("--warm-up", default=3_000, show_default=True, help="Families through the saga first, unmeasured.")
@click.option("--rounds", default=2, show_default=True, help="Rounds of one run on, one off; which first alternates.")
@one_line_errors
def dedup(households: int, warm_up: int, rounds: int) -> None:
    """Precision and recall of duplicate matching on known duplicates, and the saga with matching on and off."""
    regions = load_settings().regions
    # Its own phones and national ids: the warm-up's families are no duplicates of the measured ones.
    warm = duplicate_registry(warm_up, regions, seed=1, phone_prefix="1")
    registry = duplicate_registry(households, regions, seed=27)
    results = DedupResults(
        households,
        len(registry.pairs),
        registry.relatives_sharing_a_phone,
        registry.namesakes,
        load_settings().duplicate_hold_score,
    )
    for round_number in range(rounds):
        # Alternated first run: a fresh stack's second deployment runs on warmer caches than its first.
        for matching in (True, False) if round_number % 2 == 0 else (False, True):
            env = {"DSRS_DUPLICATE_MATCHING": str(matching).lower()}
            with deployment("bench-dedup", 1, env=env) as (_, settings, _workers):
                results.runs.append(asyncio.run(_measure_dedup(settings, warm, registry, matching)))
    click.echo(dedup_table(results))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"dedup-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    document = {**asdict(results), "throughput_ratio": round(results.throughput_ratio, 3)}
    path.write_text(json.dumps(document, indent=2) + "\n")
    click.echo(f"figures written to {path}")


async def _measure_api(settings: Settings, households: int, requests: int) -> tuple[float, ApiLatency, ApiLatency]:
    engine = create_engine(settings, pool_size=2)
    token = issue_token(settings, [Role.REGISTRAR], ttl_seconds=3600, subject="bench")
    try:
        with tqdm(total=1, desc=f"writing {households:,} households", leave=False):
            seconds = await fill(engine, households)
        ids = await sample_ids(engine, requests)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.web_port}", headers=headers) as client:
            by_id = await lookups(client, ids, households)
            by_page = await pages(client, requests, households, random.Random(7))  # noqa: S311
    finally:
        await engine.dispose()
    return seconds, by_id, by_page


@bench.command()
@click.option("--households", default=1_000_000, show_default=True, help="Households in the registry.")
@click.option("--requests", default=1000, show_default=True, help="Requests of each kind.")
@one_line_errors
def api(households: int, requests: int) -> None:
    """Registry API latency (id lookup, keyset pages) with a large registry."""
    with deployment("bench-api", 1) as (_, settings, _workers):
        seconds, by_id, by_page = asyncio.run(_measure_api(settings, households, requests))
    click.echo(f"{households:,} households written in {seconds:.1f}s")
    for name, latency in (("GET /api/v1/households/{id}", by_id), ("GET /api/v1/households (pages)", by_page)):
        click.echo(
            f"{name:<32} {latency.requests} requests: p50 {latency.p50_ms} ms, p95 {latency.p95_ms} ms, "
            f"p99 {latency.p99_ms} ms"
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"api-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(
        json.dumps({"fill_seconds": round(seconds, 1), "by_id": asdict(by_id), "pages": asdict(by_page)}, indent=2)
        + "\n"
    )
    click.echo(f"figures written to {path}")


@bench.command()
@click.option("--households", default=1_000_000, show_default=True, help="Households in the registry.")
@click.option("--seed", default=1, show_default=True, help="Seed of the synthetic registry.")
@one_line_errors
def reassess(households: int, seed: int) -> None:
    """Re-assess the registry under a new program version: households/s beside the PostgreSQL limit, flips,
    and the latency of registrations over the API while it runs."""
    filled: list[float] = []
    copies: list[tuple[Stack, str]] = []

    def prepare(stack: Stack, settings: Settings, database: str) -> None:
        filled.append(asyncio.run(fill_registry(settings, households, seed)))
        click.echo(f"{households:,} households filled in {filled[0]:.1f}s")
        # Copied before any worker connects: the limit starts from the same registry as the job.
        copies.append((stack, f"{database}_limit"))
        asyncio.run(copy_database(settings, database, copies[0][1]))

    try:
        with deployment("bench-reassess", 1, prepare) as (_, settings, _workers):
            job, registrations = asyncio.run(measure_job(settings, seed + 1))
            click.echo(
                f"re-assessed {job.done:,} households in {(job.finished_at - job.started_at).total_seconds():.1f}s"
            )
            limit_settings = with_database(settings, copies[0][1])
            page_size = settings.reassessment_page_size
            limit = asyncio.run(reassess_limit(limit_settings, min(households, LIMIT_SEGMENT), page_size))
    finally:
        for stack, copy in copies:
            stack.postgres.drop_database(copy)
    figures = results(households, page_size, filled[0], job, registrations, limit)
    for line in results_lines(figures):
        click.echo(line)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"reassess-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    click.echo(f"figures written to {path}")
