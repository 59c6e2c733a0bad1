"""Raising suspected duplicates as households are written: in the same transaction as the household, so
that the hold is in place before any of its payments could be sent.

For each household written: its blocking keys are replaced, the active households sharing a key are
its candidates (at most MAX_CANDIDATES, those sharing most keys first), each is scored
(dsrs.registry.resemblance), and every pair scoring at least the hold score is recorded once, with a
`registry.household.duplicate_suspected` event carrying ids, the score and the matched field names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import any_, bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import household_match_keys, households
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.events.ids import new_uuid
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.registry.blocking import blocking_keys
from dsrs.registry.resemblance import Person, Resemblance, resemblance
from dsrs.settings import Settings

# Enough for the families a name, phone or id really shares; a bound on the work a household can cost.
MAX_CANDIDATES = 50

_KEY_COLUMNS = ("key", "household_id")
INSERT_KEYS = insert_arrays(household_match_keys, _KEY_COLUMNS).on_conflict_do_nothing()
# matched_fields is an array per row: it travels as text and is split back ('|' never names a field).
INSERT_PAIRS = text(
    "INSERT INTO duplicate_pairs (id, household_id, candidate_id, region, score, matched_fields) "
    "SELECT id, household_id, candidate_id, region, score, string_to_array(matched_fields, '|') "
    "FROM unnest(CAST(:id AS uuid[]), CAST(:household_id AS uuid[]), CAST(:candidate_id AS uuid[]), "
    "CAST(:region AS text[]), CAST(:score AS numeric[]), CAST(:matched_fields AS text[])) "
    "AS p(id, household_id, candidate_id, region, score, matched_fields) "
    "ON CONFLICT DO NOTHING RETURNING id, household_id, candidate_id, score, matched_fields"
)
# For each household written, the active households sharing most of its keys.
CANDIDATES = text(
    """
    SELECT subject, candidate FROM (
        SELECT mine.household_id AS subject, theirs.household_id AS candidate,
               row_number() OVER (PARTITION BY mine.household_id ORDER BY count(*) DESC) AS rank
        FROM household_match_keys mine
        JOIN household_match_keys theirs ON theirs.key = mine.key AND theirs.household_id <> mine.household_id
        JOIN households h ON h.id = theirs.household_id AND h.status = 'active'
        WHERE mine.household_id = ANY(CAST(:subjects AS uuid[]))
        GROUP BY mine.household_id, theirs.household_id
    ) ranked
    WHERE rank <= :limit
    """
)
MEMBER_COLUMNS = ("household_size", "children_under_5", "children_5_to_17", "elderly_members")


def _ids(ids: list[uuid.UUID]) -> Any:
    """One array parameter: an IN list would be a statement of its own for every batch size (dsrs.db.bulk)."""
    return bindparam("ids", ids, type_=ARRAY(UUID(as_uuid=True)))


def person_of(row: Any) -> Person:
    return Person(
        region=row.region,
        name=row.head_of_household_name,
        phone=row.phone,
        national_id=row.national_id,
        email=row.email,
        address=row.address,
        members=tuple(int(row._mapping[name]) for name in MEMBER_COLUMNS),
    )


@dataclass(frozen=True, slots=True)
class Suspicion:
    household_id: uuid.UUID
    candidate_id: uuid.UUID
    region: str
    found: Resemblance


@dataclass(frozen=True)
class DuplicateMatching:
    """Matching as a deployment configures it; `enabled=False` writes no keys and raises nothing."""

    enabled: bool
    hold_score: float
    phone_country: str

    @classmethod
    def from_settings(cls, settings: Settings) -> DuplicateMatching:
        return cls(settings.duplicate_matching, settings.duplicate_hold_score, settings.phone_country)

    async def check(
        self,
        connection: AsyncConnection,
        household_ids: Sequence[uuid.UUID],
        source: str,
        traces: Mapping[uuid.UUID, str | None],
    ) -> int:
        """Index these households and raise their new suspected pairs; how many were raised."""
        if not self.enabled or not household_ids:
            return 0
        subjects = await self._persons(connection, list(dict.fromkeys(household_ids)))
        await self._index(connection, subjects)
        active = [household_id for household_id, (person, status) in subjects.items() if status == "active"]
        suspicions = await self._suspicions(connection, active, {k: p for k, (p, _) in subjects.items()})
        raised = await self._record(connection, suspicions)
        await add_events(connection, [_suspected_event(row, source, traces.get(row.household_id)) for row in raised])
        return len(raised)

    async def _persons(self, connection: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[Person, str]]:
        rows = await connection.execute(
            select(
                households.c.id,
                households.c.status,
                households.c.region,
                households.c.head_of_household_name,
                households.c.phone,
                households.c.national_id,
                households.c.email,
                households.c.address,
                *(households.c[name] for name in MEMBER_COLUMNS),
            ).where(households.c.id == any_(_ids(ids)))
        )
        return {row.id: (person_of(row), row.status) for row in rows}

    async def _index(self, connection: AsyncConnection, subjects: Mapping[uuid.UUID, tuple[Person, str]]) -> None:
        """Replace the households' blocking keys: a changed name, phone or id changes its candidates."""
        await connection.execute(
            delete(household_match_keys).where(household_match_keys.c.household_id == any_(_ids(list(subjects))))
        )
        rows = [
            {"key": key, "household_id": household_id}
            for household_id, (person, _) in subjects.items()
            for key in blocking_keys(person, self.phone_country)
        ]
        if rows:
            await connection.execute(INSERT_KEYS, arrays(household_match_keys, rows, _KEY_COLUMNS))

    async def _suspicions(
        self, connection: AsyncConnection, subjects: list[uuid.UUID], persons: Mapping[uuid.UUID, Person]
    ) -> list[Suspicion]:
        if not subjects:
            return []
        found = (await connection.execute(CANDIDATES, {"subjects": subjects, "limit": MAX_CANDIDATES})).all()
        unknown = list({row.candidate for row in found} - set(persons))
        everyone = dict(persons)
        if unknown:
            everyone.update({k: person for k, (person, _) in (await self._persons(connection, unknown)).items()})
        pairs: dict[frozenset[uuid.UUID], Suspicion] = {}
        for row in found:
            pair = frozenset((row.subject, row.candidate))
            if pair in pairs:
                continue
            subject = everyone[row.subject]
            scored = resemblance(subject, everyone[row.candidate], self.phone_country)
            if scored.score >= self.hold_score:
                pairs[pair] = Suspicion(row.subject, row.candidate, subject.region, scored)
        # In one order, so that two transactions raising overlapping pairs wait rather than deadlock.
        return sorted(pairs.values(), key=lambda s: sorted((s.household_id, s.candidate_id)))

    async def _record(self, connection: AsyncConnection, suspicions: list[Suspicion]) -> list[Any]:
        if not suspicions:
            return []
        columns = {
            "id": [uuid.UUID(new_uuid()) for _ in suspicions],
            "household_id": [s.household_id for s in suspicions],
            "candidate_id": [s.candidate_id for s in suspicions],
            "region": [s.region for s in suspicions],
            "score": [Decimal(str(s.found.score)) for s in suspicions],
            "matched_fields": ["|".join(s.found.matched_fields) for s in suspicions],
        }
        return list((await connection.execute(INSERT_PAIRS, columns)).all())


def _suspected_event(row: Any, source: str, traceparent: str | None) -> OutgoingEvent:
    """Ids, the score and the names of the fields that agreed: never their values."""
    data = {
        "pair_id": str(row.id),
        "household_id": str(row.household_id),
        "candidate_id": str(row.candidate_id),
        "score": str(row.score),
        "matched_fields": list(row.matched_fields),
    }
    envelope = new_envelope(topics.HOUSEHOLD_DUPLICATE_SUSPECTED, str(row.household_id), data, source)
    return OutgoingEvent(topics.HOUSEHOLD_DUPLICATE_SUSPECTED, envelope, traceparent)
