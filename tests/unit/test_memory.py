import os
import subprocess
import sys

from dsrs_dev.bench.memory import (
    MemorySample,
    events_processed,
    memory_profile,
    resident_mib,
    resident_with_children_mib,
)

SCRAPE = """# HELP dsrs_agent_events_processed_total Events an agent applied
# TYPE dsrs_agent_events_processed_total counter
dsrs_agent_events_processed_total{agent="registry-intake"} 1200.0
dsrs_agent_events_processed_total{agent="eligibility"} 1150.0
dsrs_agent_events_processed_created{agent="eligibility"} 1.7e+09
dsrs_agent_events_failed_total{agent="eligibility"} 3.0
dsrs_agent_events_applied_upstream_total{agent="payment"} 40.0
dsrs_agent_events_applied_upstream_created{agent="payment"} 1.7e+09
"""


def test_events_processed_adds_up_every_agent_and_nothing_else() -> None:
    # Events skipped as applied upstream were taken by the agent too.
    assert events_processed(SCRAPE) == 2390


def test_resident_memory_of_this_process_is_read_from_proc() -> None:
    assert resident_mib(os.getpid()) > 1.0


def test_a_process_with_a_child_counts_the_child_resident_memory_too() -> None:
    # The child holds 200 MiB of its own, so its share stands out from any change in ours.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; held = b'x' * (200 * 2**20); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        assert resident_with_children_mib(os.getpid()) - resident_mib(os.getpid()) >= 200
    finally:
        child.communicate(b"")


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
