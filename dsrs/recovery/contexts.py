"""A fingerprint per cause of what a letter depended on when it failed: if it differs now, retry."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from dsrs.dlq.causes import CONTENT, PROGRAMS, REGIONS, RELEASE


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:16]


def deployment_contexts(regions: Iterable[str], programs: Iterable[tuple[str, str]], release: str) -> dict[str, str]:
    """The accepted regions, the programs' versions and the release, each as a fingerprint."""
    return {
        # Content never changes by itself: such letters are not retried on their own.
        CONTENT: "",
        REGIONS: _digest(regions),
        PROGRAMS: programs_fingerprint(programs),
        RELEASE: release,
    }


def programs_fingerprint(programs: Iterable[tuple[str, str]]) -> str:
    """The programs deciding now, by id and version."""
    return _digest(f"{program_id}@{version}" for program_id, version in programs)
