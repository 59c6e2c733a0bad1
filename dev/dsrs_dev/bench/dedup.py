"""`dsrs bench dedup`: how well the registry finds known duplicates (precision and recall against the
generator's truth, dsrs_dev.duplicate_registry), and what matching costs the saga (households per second
with matching on and off, alternated in one run).

Throughput is measured as in `dsrs bench saga`: from the first intake message's time to the last
`payment.scheduled` published, over the measured households; a warm-up set goes through first.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tqdm import tqdm

from dsrs.events import topics
from dsrs.kafka.lag import topic_depths
from dsrs.settings import Settings
from dsrs_dev.bench.saga import payment_times, wait_settled
from dsrs_dev.duplicate_registry import DuplicateRegistry
from dsrs_dev.partner import publish_intake
from dsrs_dev.progress import advancer
from dsrs_dev.saga_status import saga_status


@dataclass(frozen=True)
class Accuracy:
    known: int
    raised: int
    found: int

    @property
    def precision(self) -> float:
        return self.found / self.raised if self.raised else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.known if self.known else 1.0


@dataclass
class DedupRun:
    matching: bool
    households: int
    seconds: float
    households_per_second: float
    accuracy: Accuracy | None = None


@dataclass
class DedupResults:
    households: int
    known_duplicates: int
    relatives_sharing_a_phone: int
    namesakes: int
    hold_score: float
    runs: list[DedupRun] = field(default_factory=list)

    def median_rate(self, matching: bool) -> float:
        return statistics.median(run.households_per_second for run in self.runs if run.matching is matching)

    @property
    def throughput_ratio(self) -> float:
        """Saga throughput with matching over without: 0.85 or more meets the target."""
        return self.median_rate(True) / self.median_rate(False)


async def raised_pairs(engine: AsyncEngine) -> set[frozenset[str]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT household_id, candidate_id FROM duplicate_pairs"))
        return {frozenset((str(a), str(b))) for a, b in rows}


async def run_registry(
    settings: Settings, engine: AsyncEngine, registry: DuplicateRegistry, programs: int, label: str
) -> tuple[float, float]:
    """Publish the registry and wait for the saga to finish it: (seconds, households per second)."""
    intake = settings.topic(topics.HOUSEHOLD_INTAKE)
    already_in = (await topic_depths(settings.bootstrap_servers, [intake])).get(intake, 0)
    before = (await saga_status(engine)).households
    paid_before = set(await payment_times(settings))
    count = len(registry.messages)
    started = datetime.now(UTC)
    with tqdm(total=count, desc=label, unit="household", leave=False) as progress:
        await publish_intake(settings, registry.messages, advancer(progress), topic=intake)
    await wait_settled(engine, settings, already_in + count, before + count, programs)
    ours = {message.household_id for message in registry.messages}
    paid = [t for household, t in (await payment_times(settings)).items() if household in ours - paid_before]
    seconds = (max(paid) - started).total_seconds()
    return round(seconds, 2), round(count / seconds, 1)


def accuracy(known: set[frozenset[str]], raised: set[frozenset[str]]) -> Accuracy:
    return Accuracy(len(known), len(raised), len(raised & known))


def results_table(results: DedupResults) -> str:
    lines = [
        f"registry: {results.households:,} households, {results.known_duplicates:,} known duplicates, "
        f"{results.relatives_sharing_a_phone:,} relatives sharing a phone, {results.namesakes:,} namesakes; "
        f"hold score {results.hold_score}",
    ]
    for run in results.runs:
        line = f"matching {'on ' if run.matching else 'off'}  {run.households_per_second:>8,.0f} households/s"
        if run.accuracy is not None:
            a = run.accuracy
            line += f"  raised {a.raised:,}, true {a.found:,}: precision {a.precision:.3f}, recall {a.recall:.3f}"
        lines.append(line)
    lines.append(
        f"median on {results.median_rate(True):,.0f}/s, off {results.median_rate(False):,.0f}/s: "
        f"ratio {results.throughput_ratio:.3f} (cost {1 - results.throughput_ratio:.1%})"
    )
    return "\n".join(lines)
