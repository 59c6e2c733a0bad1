import os

from dsrs.bench.memory import MemorySample, events_processed, memory_profile, resident_mib

SCRAPE = """# HELP dsrs_agent_events_processed_total Events an agent applied
# TYPE dsrs_agent_events_processed_total counter
dsrs_agent_events_processed_total{agent="registry-intake"} 1200.0
dsrs_agent_events_processed_total{agent="eligibility"} 1150.0
dsrs_agent_events_processed_created{agent="eligibility"} 1.7e+09
dsrs_agent_events_failed_total{agent="eligibility"} 3.0
"""


def test_events_processed_adds_up_every_agent_and_nothing_else() -> None:
    assert events_processed(SCRAPE) == 2350


def test_resident_memory_of_this_process_is_read_from_proc() -> None:
    assert resident_mib(os.getpid()) > 1.0


def test_the_profile_starts_once_warm_and_reports_the_peak_after_it() -> None:
    samples = [
        MemorySample(500, 900.0),
        MemorySample(12_000, 200.0),
        MemorySample(50_000, 230.0),
        MemorySample(90_000, 210.0),
    ]
    profile = memory_profile(samples)
    assert profile is not None
    assert (profile.warm_events, profile.warm_rss_mib) == (12_000, 200.0)
    assert (profile.last_events, profile.last_rss_mib, profile.peak_rss_mib) == (90_000, 210.0, 230.0)


def test_no_profile_when_the_worker_never_warmed_up() -> None:
    assert memory_profile([MemorySample(100, 200.0)]) is None
