"""Raising suspected duplicates as households are written: in the same transaction as the household, so
that the hold is in place before any of its payments could be sent.

For each household written: its blocking keys are replaced (a new one has none to replace), the active
households sharing a key are its candidates (at most MAX_CANDIDATES, those sharing most keys first), each
is scored (dsrs.registry.resemblance), and every pair scoring at least the hold score is recorded once,
with a `registry.household.duplicate_suspected` event carrying ids, the score and the matched field names.

The households written are matched from the fields in hand, not read back. Candidates are found by
looking up each of the written households' keys in the keys' primary key, one key at a time: the work
stays that of the few households sharing a key whatever the planner's statistics say of a registry
that is growing.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import any_, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import arrays, insert_arrays, uuid_array
from dsrs.db.schema import household_match_keys, households
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.events.ids import new_uuid
from dsrs.outbox.writer import OutgoingEvent
from dsrs.registry.blocking import blocking_keys
from dsrs.registry.household import HouseholdFields
from dsrs.registry.resemblance import Person, Resemblance, resemblance
from dsrs.registry.store import Recorded
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
# The households holding each of these keys, up to a bound a key: a key shared by a whole block of the
# registry (a placeholder phone) must not cost a household the block.
HOLDERS = text(
    "SELECT mine.subject, theirs.household_id AS candidate "
    "FROM unnest(CAST(:subjects AS uuid[]), CAST(:keys AS bigint[])) AS mine(subject, key) "
    "CROSS JOIN LATERAL (SELECT t.household_id FROM household_match_keys t "
    "WHERE t.key = mine.key AND t.household_id <> mine.subject LIMIT :per_key) AS theirs"
)
HOLDERS_PER_KEY = 2 * MAX_CANDIDATES
MEMBER_COLUMNS = ("household_size", "children_under_5", "children_5_to_17", "elderly_members")


def person_of(record: Any) -> Person:
    """A household's identifying fields, from its row or from the fields just written."""
    return Person(
        region=record.region,
        name=record.head_of_household_name,
        phone=record.phone,
        national_id=record.national_id,
        email=record.email,
        address=record.address,
        members=tuple(int(getattr(record, name)) for name in MEMBER_COLUMNS),
    )


@dataclass(frozen=True, slots=True)
class Written:
    """A household as this transaction has just written it."""

    recorded: Recorded
    fields: HouseholdFields


@dataclass(frozen=True, slots=True)
class Subject:
    person: Person
    active: bool
    new: bool


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
        written: Sequence[Written],
        source: str,
        traces: Mapping[uuid.UUID, str | None],
    ) -> list[OutgoingEvent]:
        """Index these households and raise their new suspected pairs; the events that tell them, for the
        caller to add to the outbox after the households' own."""
        if not self.enabled or not written:
            return []
        subjects = _subjects(written)
        keys = {household_id: blocking_keys(s.person, self.phone_country) for household_id, s in subjects.items()}
        await self._index(connection, subjects, keys)
        active = {household_id: keys[household_id] for household_id, s in subjects.items() if s.active}
        suspicions = await self._suspicions(connection, active, {k: s.person for k, s in subjects.items()})
        raised = await self._record(connection, suspicions)
        return [_suspected_event(row, source, traces.get(row.household_id)) for row in raised]

    async def _index(
        self, connection: AsyncConnection, subjects: Mapping[uuid.UUID, Subject], keys: Mapping[uuid.UUID, set[int]]
    ) -> None:
        """Replace the households' blocking keys: a changed name, phone or id changes its candidates."""
        changed = [household_id for household_id, subject in subjects.items() if not subject.new]
        if changed:
            await connection.execute(
                delete(household_match_keys).where(household_match_keys.c.household_id == any_(uuid_array(changed)))
            )
        rows = [{"key": key, "household_id": household_id} for household_id, held in keys.items() for key in held]
        if rows:
            await connection.execute(INSERT_KEYS, arrays(household_match_keys, rows, _KEY_COLUMNS))

    async def _candidates(
        self, connection: AsyncConnection, keys: Mapping[uuid.UUID, set[int]]
    ) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Each household's candidates: the holders of its keys, those sharing most keys first."""
        pairs = [(household_id, key) for household_id, held in keys.items() for key in held]
        if not pairs:
            return {}
        parameters = {
            "subjects": [household_id for household_id, _ in pairs],
            "keys": [key for _, key in pairs],
            "per_key": HOLDERS_PER_KEY,
        }
        shared = Counter((row.subject, row.candidate) for row in await connection.execute(HOLDERS, parameters))
        ranked: dict[uuid.UUID, list[uuid.UUID]] = {}
        for (subject, candidate), _ in sorted(shared.items(), key=lambda item: (-item[1], str(item[0][1]))):
            ranked.setdefault(subject, []).append(candidate)
        return ranked

    async def _suspicions(
        self, connection: AsyncConnection, keys: Mapping[uuid.UUID, set[int]], persons: Mapping[uuid.UUID, Person]
    ) -> list[Suspicion]:
        if not keys:
            return []
        ranked = await self._candidates(connection, keys)
        unknown = list({candidate for found in ranked.values() for candidate in found} - set(persons))
        everyone = dict(persons)
        everyone.update(await self._active_persons(connection, unknown))
        pairs: dict[frozenset[uuid.UUID], Suspicion] = {}
        for subject_id, found in ranked.items():
            subject = everyone[subject_id]
            # Written households count as candidates only if active: each is among `keys` just when it is.
            candidates = [c for c in found if c in everyone and (c in keys or c not in persons)][:MAX_CANDIDATES]
            for candidate_id in candidates:
                pair = frozenset((subject_id, candidate_id))
                if pair in pairs:
                    continue
                scored = resemblance(subject, everyone[candidate_id], self.phone_country)
                if scored.score >= self.hold_score:
                    pairs[pair] = Suspicion(subject_id, candidate_id, subject.region, scored)
        # In one order, so that two transactions raising overlapping pairs wait rather than deadlock.
        return sorted(pairs.values(), key=lambda s: sorted((s.household_id, s.candidate_id)))

    async def _active_persons(self, connection: AsyncConnection, ids: list[uuid.UUID]) -> dict[uuid.UUID, Person]:
        if not ids:
            return {}
        rows = await connection.execute(
            select(
                households.c.id,
                households.c.region,
                households.c.head_of_household_name,
                households.c.phone,
                households.c.national_id,
                households.c.email,
                households.c.address,
                *(households.c[name] for name in MEMBER_COLUMNS),
            ).where(households.c.id == any_(uuid_array(ids)), households.c.status == "active")
        )
        return {row.id: person_of(row) for row in rows}

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


def _subjects(written: Sequence[Written]) -> dict[uuid.UUID, Subject]:
    """One per household, as last written; new if this transaction created it (it has no keys yet)."""
    created = {w.recorded.household_id for w in written if w.recorded.created}
    return {
        w.recorded.household_id: Subject(person_of(w.fields), w.recorded.active, w.recorded.household_id in created)
        for w in written
    }


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
