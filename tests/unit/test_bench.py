import json
from pathlib import Path

import click
import pytest

from dsrs_dev.bench.kafka_limit import KafkaLimit, household_plan
from dsrs_dev.bench.memory import MemoryProfile
from dsrs_dev.bench.postgres_limit import PostgresLimit, Transaction, lanes_of
from dsrs_dev.bench.saga import Results, Round, SagaRun, percentile, results_table, write_results
from dsrs_dev.cli.bench import _worker_counts


def run(rate: float, offered: float | None = None, p99_ms: float = 300.0) -> SagaRun:
    # 5 messages produced a household, 3 of them consumed by the agents.
    return SagaRun(1000, offered, 1000 / rate, rate, 100.0, 200.0, p99_ms, 5.0, 3.0, {"t.intake": 1.0})


def saga_round(rate: float, kafka: float, postgres: float, p99_ms: float = 300.0) -> Round:
    return Round(
        run(rate),
        run(rate / 2, rate / 2, p99_ms),
        KafkaLimit(1000, 5000, 3000, 1000 / kafka, kafka, kafka * 8, "t.copy"),
        PostgresLimit(1000, 1000 / postgres, postgres, 20, 150, 5, 3.0),
        # A no-op agent's 6,000 messages/s at 150 µs each.
        6_000.0,
        150.0,
        MemoryProfile(10_200, 250.0, 990_000, 262.5, 270.0),
    )


def test_percentiles_pick_from_the_sorted_sample() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 51.0
    assert percentile(values, 0.99) == 100.0


def test_a_round_is_against_its_lower_limit_and_dispatch_against_the_messages_the_agents_consume() -> None:
    kafka_lower = saga_round(500.0, kafka=1_250.0, postgres=2_000.0)
    postgres_lower = saga_round(500.0, kafka=4_000.0, postgres=2_000.0)

    assert kafka_lower.limit_per_second == 1_250.0
    assert kafka_lower.ratio == 0.4
    assert postgres_lower.ratio == 0.25
    # 6,000 messages/s over the 3 messages a household costs the agents.
    assert kafka_lower.faust_households_per_second == 2_000.0


def test_the_rounds_give_each_figure_as_a_median_and_spread_and_the_json_has_them_at_its_top(tmp_path: Path) -> None:
    rounds = [
        saga_round(500.0, kafka=4_000.0, postgres=2_000.0, p99_ms=900.0),
        saga_round(400.0, kafka=4_000.0, postgres=2_000.0, p99_ms=500.0),
        saga_round(600.0, kafka=4_000.0, postgres=1_500.0, p99_ms=700.0),
    ]
    results = Results({"cpus": 2}, 1000, 1, 333, rounds)

    ratio = results.spread("ratio")
    assert (ratio.median, ratio.low, ratio.high) == (0.25, 0.2, 0.4)
    assert results.spread("households_per_s").median == 500.0
    table = results_table(results)
    assert "500 households/s (400-600)" in table
    assert "0.25 (0.20-0.40)" in table
    assert "p99 0.70 s (0.50-0.90)" in table
    assert "333 households" in table
    assert "250 -> 262 MiB" in table

    written = json.loads(write_results(results, tmp_path).read_text())
    assert written["households_per_s"] == 500.0
    assert written["ratio"] == 0.25
    assert written["p99_half_load_s"] == 0.7
    assert written["spread"]["ratio"] == [0.2, 0.4]
    assert [r["ratio"] for r in written["rounds"]] == [0.25, 0.2, 0.4]
    assert written["rounds"][0]["postgres"]["connections"] == 5
    assert written["rounds"][0]["full_speed"]["consumed_messages_per_household"] == 3.0
    assert written["warm_up_households"] == 333


def test_the_kafka_limit_spreads_each_topics_share_evenly_over_the_households() -> None:
    plan = household_plan({"intake": 1.0, "bundles": 0.25, "scheduled": 0.5}, 8)

    assert [topics.count("intake") for topics in plan] == [1] * 8
    assert sum(topics.count("bundles") for topics in plan) == 2
    assert sum(topics.count("scheduled") for topics in plan) == 4
    assert [topics.count("scheduled") for topics in plan] == [0, 1] * 4


def test_the_saga_benchmark_takes_one_worker_count_or_several() -> None:
    assert _worker_counts("2") == [2]
    assert _worker_counts("1,2,3") == [1, 2, 3]
    for wrong in ("", "0", "1,x", "-1"):
        with pytest.raises(click.BadParameter):
            _worker_counts(wrong)


def test_the_postgres_limit_deals_each_stages_transactions_over_one_lane_a_worker_but_analytics_keeps_one() -> None:
    stages = ["registry-intake", "analytics", "registry-intake", "analytics", "registry-intake", "dci-notify"]
    transactions = [Transaction(stage, [], frozenset()) for stage in stages]
    assert sorted(lanes_of(transactions, 2)) == [[0, 4], [1, 3], [2], [5]]
    assert sorted(lanes_of(transactions, 1)) == [[0, 2, 4], [1, 3], [5]]
