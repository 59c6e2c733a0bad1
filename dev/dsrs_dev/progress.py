"""Progress bars for the long-running commands (demo, benchmark)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tqdm import tqdm


def advancer(progress: tqdm[Any]) -> Callable[[int], None]:
    """A callback that moves the bar on by a count, for code that reports progress in steps."""

    def advance(count: int) -> None:
        progress.update(count)

    return advance
