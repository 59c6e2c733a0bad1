import uuid

from dsrs.events.envelope import canonical_uuid
from dsrs.events.ids import new_uuid


def test_new_ids_are_random_version_4_uuids_in_the_canonical_form() -> None:
    ids = [new_uuid() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert canonical_uuid(text) == text == str(parsed)


def test_every_random_bit_is_used() -> None:
    # Bits that never change between ids would mean fewer than 122 random bits.
    values = [uuid.UUID(new_uuid()).int for _ in range(2000)]
    varying = 0
    for value in values:
        varying |= value ^ values[0]
    fixed = (0xF000 << 64) | (0xC000 << 48)
    assert varying == ((1 << 128) - 1) & ~fixed
