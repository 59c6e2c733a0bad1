"""Matching households: phones to E.164, names compared across typos, transliterations, accents and
swapped order, blocking keys, and the scores that decide what is raised."""

from __future__ import annotations

import pytest

from dsrs.registry.blocking import blocking_keys
from dsrs.registry.identity import folded, normalized_phone
from dsrs.registry.resemblance import Person, name_similarity, resemblance

HOLD = 0.8


def person(name: str = "Amina Okafor", **fields: object) -> Person:
    values: dict[str, object] = {
        "region": "R01",
        "name": name,
        "phone": None,
        "national_id": None,
        "email": None,
        "address": None,
        "members": (5, 1, 2, 0),
    }
    values.update(fields)
    return Person(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("written", ["0712 345 678", "+254712345678", "+254 712-345-678", "0712-345678"])
def test_phones_written_differently_are_one_number(written: str) -> None:
    assert normalized_phone(written, "KE") == "+254712345678"


def test_a_phone_that_cannot_be_read_is_kept_as_given() -> None:
    assert normalized_phone("+999 1234567", "KE") == "+999 1234567"
    assert normalized_phone("1234567890123456789", "KE") == "1234567890123456789"


def test_phones_kept_as_given_match_only_as_given() -> None:
    same = resemblance(person(phone="+999 1234567"), person("Grace Banda", phone="+999 1234567"), "KE")
    other = resemblance(person(phone="+999 1234567"), person("Grace Banda", phone="+9991234567"), "KE")
    assert "phone" in same.matched_fields
    assert "phone" not in other.matched_fields


def test_folding_drops_accents_case_and_punctuation() -> None:
    assert folded("  José GARCÍA-López ") == "jose garcia lopez"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Amina Okafor", "Amina Okafr"),  # typo
        ("Mohammed Hassan", "Muhammad Hasan"),  # transliteration
        ("José García", "Jose Garcia"),  # accents
        ("Okafor Amina", "Amina Okafor"),  # swapped order
        ("Amina Grace Okafor", "Amina Okafor"),  # a middle name dropped
    ],
)
def test_variants_of_one_name_are_alike(left: str, right: str) -> None:
    assert name_similarity(left, right) >= 0.93


@pytest.mark.parametrize(("left", "right"), [("Kofi Mensah", "Kwame Mensah"), ("Juan Garcia", "Luis Garcia")])
def test_relatives_sharing_a_family_name_are_not(left: str, right: str) -> None:
    assert name_similarity(left, right) < 0.8


def test_a_name_variant_with_the_same_phone_is_raised() -> None:
    found = resemblance(person(phone="+254712345678"), person("Okafor Amina", phone="0712 345 678"), "KE")
    assert found.score >= HOLD
    assert found.matched_fields == ("phone", "head_of_household_name", "members")


def test_the_same_national_id_and_name_is_raised_whatever_else_differs() -> None:
    found = resemblance(
        person("Mohammed Hassan", national_id="A1234567"),
        person("Muhammad Hasan", national_id="A1234567", members=(6, 1, 2, 0)),
        "KE",
    )
    assert found.score >= HOLD
    assert "national_id" in found.matched_fields


def test_a_shared_family_phone_is_not_enough() -> None:
    found = resemblance(person("Kofi Mensah", phone="0722000111"), person("Kwame Mensah", phone="+254722000111"), "KE")
    assert found.score < HOLD


def test_namesakes_are_not_enough() -> None:
    assert resemblance(person(phone="+254711000222"), person(phone="+254711000333"), "KE").score < HOLD


def test_two_national_ids_are_two_people() -> None:
    same_phone = {"phone": "+254744000444"}
    found = resemblance(
        person(national_id="B7654321", **same_phone), person(national_id="C1111111", **same_phone), "KE"
    )
    assert found.score < HOLD


def test_names_are_only_compared_within_a_region() -> None:
    found = resemblance(person(email="a@example.org"), person(region="R02", email="a@example.org"), "KE")
    assert "head_of_household_name" not in found.matched_fields


def test_variants_of_one_household_share_a_blocking_key() -> None:
    keys = blocking_keys(person("Okafor Amina"), "KE")
    assert keys & blocking_keys(person("Amina Okafor"), "KE")
    assert blocking_keys(person("Tendai Moyo", phone="0712 345 678"), "KE") & blocking_keys(
        person("Tendai Moyp", phone="+254712345678"), "KE"
    )


def test_households_in_other_regions_with_other_names_share_no_key() -> None:
    assert not blocking_keys(person("Amina Okafor"), "KE") & blocking_keys(person("Amina Okafor", region="R02"), "KE")
    assert not blocking_keys(person("Amina Okafor"), "KE") & blocking_keys(person("Grace Banda"), "KE")
