"""Why a message was dead-lettered, as the reprocess agent needs it: what would have to change for it to pass.

- `content`: the message itself is wrong (not JSON, not an event, a field of the wrong type); it can
  pass only once someone fixes and replays it.
- `regions`: it names a region this deployment does not accept (yet).
- `programs`: it needs a program, or a program version, this deployment does not have (yet).
- `release`: anything else (an invariant, a bug): a new DSRS release may let it pass.

An exception says which by a `dead_letter_cause` attribute; one that says nothing is `release`.
"""

from __future__ import annotations

CONTENT = "content"
REGIONS = "regions"
PROGRAMS = "programs"
RELEASE = "release"
CAUSES = (CONTENT, REGIONS, PROGRAMS, RELEASE)


def cause_of(error: BaseException) -> str:
    declared = getattr(error, "dead_letter_cause", None)
    return declared if declared in CAUSES else RELEASE
