import json
from pathlib import Path

from dsrs.bench.saga import Results, SagaRun, percentile, results_table, write_results


def run(rate: float, offered: float | None = None) -> SagaRun:
    return SagaRun(1000, offered, 1000 / rate, rate, 100.0, 200.0, 300.0)


def test_percentiles_pick_from_the_sorted_sample() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 51.0
    assert percentile(values, 0.99) == 100.0


def test_the_ratio_is_against_the_lower_limit_and_everything_is_written(tmp_path: Path) -> None:
    results = Results({"cpus": 2}, 1000, 1, run(500.0), run(240.0, 250.0), 10_000.0, 2_000.0)
    assert results.limit_per_second == 2_000.0
    assert results.ratio == 0.25
    table = results_table(results)
    assert "500 households/s" in table
    assert "0.25" in table
    written = json.loads(write_results(results, tmp_path).read_text())
    assert written["ratio"] == 0.25
    assert written["full_speed"]["latency_p99_ms"] == 300.0
