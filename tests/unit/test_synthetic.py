import json

from dsrs.registry.household import InvalidHousehold, parse_household
from dsrs_dev.synthetic import synthetic_intake

REGIONS = ("R01", "R02", "R03")


def test_the_same_seed_gives_the_same_households() -> None:
    first = [m.household_id for m in synthetic_intake(200, REGIONS, seed=3)]
    assert first == [m.household_id for m in synthetic_intake(200, REGIONS, seed=3)]


def test_valid_messages_validate_and_invalid_ones_do_not() -> None:
    messages = list(synthetic_intake(1000, REGIONS, seed=1, update_share=0.1, invalid_share=0.05))
    valid = [m for m in messages if m.valid]
    invalid = [m for m in messages if not m.valid]
    assert invalid
    assert len({m.household_id for m in valid}) < len(valid), "some households are submitted again (updates)"
    for message in valid:
        parse_household(json.loads(message.value)["data"], REGIONS)
    for message in invalid:
        try:
            document = json.loads(message.value)
        except json.JSONDecodeError:
            continue
        try:
            parse_household(document["data"], REGIONS)
        except InvalidHousehold:
            continue
        raise AssertionError(f"{message.household_id} was meant to be invalid")
