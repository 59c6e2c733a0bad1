import json
from pathlib import Path

import click
import pytest

from dsrs_dev.bench.memory import MemoryProfile
from dsrs_dev.bench.saga import Results, SagaRun, percentile, results_table, write_results
from dsrs_dev.cli.bench import _worker_counts

# A no-op agent's 6,000 messages/s at 150 µs each; 6 agent messages a household.
FAUST = (6_000.0, 150.0, 6.0)


def run(rate: float, offered: float | None = None, messages: float = 8.0) -> SagaRun:
    return SagaRun(1000, offered, 1000 / rate, rate, 100.0, 200.0, 300.0, messages)


def test_percentiles_pick_from_the_sorted_sample() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 51.0
    assert percentile(values, 0.99) == 100.0


def test_the_ratio_is_against_the_lower_limit_and_everything_is_written(tmp_path: Path) -> None:
    memory = MemoryProfile(10_200, 250.0, 990_000, 262.5, 270.0)
    results = Results(
        {"cpus": 2}, 1000, 1, run(500.0), run(240.0, 250.0), 40_000.0, 2_000.0, memory, 6_000.0, 150.0, 6.0
    )
    assert results.limit_per_second == 2_000.0
    assert results.ratio == 0.25
    table = results_table(results)
    assert "500 households/s" in table
    assert "0.25" in table
    assert "250 -> 262 MiB" in table
    written = json.loads(write_results(results, tmp_path).read_text())
    assert written["ratio"] == 0.25
    assert written["full_speed"]["latency_p99_ms"] == 300.0
    assert written["memory"]["peak_rss_mib"] == 270.0
    assert written["faust_households_per_second"] == 1_000.0


def test_the_faust_dispatch_row_divides_its_rate_by_the_agent_messages_a_household_costs() -> None:
    results = Results({"cpus": 2}, 1000, 1, run(500.0), run(240.0, 250.0), 40_000.0, 2_000.0, None, *FAUST)
    assert results.faust_households_per_second == 1_000.0
    assert "6.0 agent messages a household: 1,000 households/s" in results_table(results)


def test_the_kafka_limit_counts_per_household_by_the_messages_a_household_costs() -> None:
    # 8 messages a household: 10,000 messages/s carry 1,250 households/s, below PostgreSQL's 2,000.
    results = Results(
        {"cpus": 2}, 1000, 1, run(500.0, messages=8.0), run(240.0, 250.0), 10_000.0, 2_000.0, None, 6_000.0, 150.0, 6.0
    )
    assert results.kafka_households_per_second == 1_250.0
    assert results.limit_per_second == 1_250.0
    assert results.ratio == 0.4
    assert "1,250 households/s" in results_table(results)


def test_the_warm_up_is_reported_beside_the_figures_it_is_kept_out_of(tmp_path: Path) -> None:
    results = Results({"cpus": 2}, 1000, 1, run(500.0), run(240.0, 250.0), 40_000.0, 2_000.0, None, *FAUST)
    results.warm_up_households = 333

    assert "warm-up (not measured)" in results_table(results)
    assert "333 households" in results_table(results)
    assert json.loads(write_results(results, tmp_path).read_text())["warm_up_households"] == 333


def test_the_saga_benchmark_takes_one_worker_count_or_several() -> None:
    assert _worker_counts("2") == [2]
    assert _worker_counts("1,2,3") == [1, 2, 3]
    for wrong in ("", "0", "1,x", "-1"):
        with pytest.raises(click.BadParameter):
            _worker_counts(wrong)
