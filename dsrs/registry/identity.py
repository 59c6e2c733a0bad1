"""How the registry compares the fields that identify a family: phones in E.164, names and addresses folded to
plain letters and digits (accents, case and punctuation gone) and their tokens' phonetic keys."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
import phonenumbers

_NOT_LETTERS_OR_DIGITS = re.compile(r"[^a-z0-9]+")
# A head of household's name rarely has more tokens than this; more would only multiply blocking keys.
MAX_NAME_TOKENS = 4


@lru_cache(maxsize=65_536)
def normalized_phone(raw: str, country: str) -> str:
    """E.164 (`+254712345678`) when the number can be read, national numbers in `country`; else as given.
    Cached: parsing costs more than the rest of a household's keys, and a pair compares both phones again."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return raw
    if not phonenumbers.is_possible_number(number):
        return raw
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def folded(text: str) -> str:
    """Lower-case ASCII letters, digits and single spaces: `José  GARCÍA-López` -> `jose garcia lopez`,
    `12, Market Rd.` -> `12 market rd`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_LETTERS_OR_DIGITS.sub(" ", stripped).strip()


def name_tokens(name: str) -> tuple[str, ...]:
    return tuple(folded(name).split()[:MAX_NAME_TOKENS])


@lru_cache(maxsize=65_536)
def phonetic(token: str) -> str:
    """Metaphone: spellings of one sound share it (`mohammed`, `muhammad` -> `MHMT`). Names repeat: cached."""
    return jellyfish.metaphone(token) or token
