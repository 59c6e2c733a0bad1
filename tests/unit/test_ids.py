import os
import threading
import time
import uuid

from dsrs.events.envelope import canonical_uuid
from dsrs.events.ids import RANDOM_VALUES_PER_READ, new_uuid


def test_new_ids_are_version_7_uuids_in_the_canonical_form() -> None:
    ids = [new_uuid() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert canonical_uuid(text) == text == str(parsed)


def test_ids_start_with_the_time_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_uuid()).int >> 80
    after = time.time_ns() // 1_000_000
    assert before <= made <= after
    # Later ids sort later: indexes on them are appended to.
    earlier = new_uuid()
    time.sleep(0.002)
    assert new_uuid() > earlier


def test_every_random_bit_is_used() -> None:
    # Bits that never change between ids made in the same millisecond would mean fewer than 74 random bits.
    values = [uuid.UUID(new_uuid()).int for _ in range(2000)]
    varying = 0
    for value in values:
        varying |= value ^ values[0]
    random_bits = (0x0FFF << 64) | ((1 << 62) - 1)
    assert varying & random_bits == random_bits


def test_threads_making_ids_at_once_never_get_the_same_one() -> None:
    made: list[list[str]] = [[] for _ in range(8)]

    def make(into: list[str]) -> None:
        into.extend(new_uuid() for _ in range(5 * RANDOM_VALUES_PER_READ))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every_id = [one for ids in made for one in ids]
    assert len(set(every_id)) == len(every_id) == 8 * 5 * RANDOM_VALUES_PER_READ


def test_a_forked_child_does_not_make_its_parents_next_ids() -> None:
    new_uuid()  # so that the parent holds random values still unused
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reading)
        os.write(writing, "\n".join(new_uuid() for _ in range(10)).encode())
        os._exit(0)
    os.close(writing)
    with os.fdopen(reading) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)

    parents = {new_uuid() for _ in range(10)}
    assert len(childs) == 10
    assert not childs & parents
