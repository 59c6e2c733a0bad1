"""A household as the standard's Group record: personal fields only for roles that read personal data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from dsrs.registry.household import PERSONAL_FIELDS, HouseholdFields

RECORD_TYPE = "spdci:Group"
# What any role sees: every field of a household that is not personal, and the registry's own.
FACT_FIELDS = tuple(name for name in HouseholdFields.model_fields if name not in PERSONAL_FIELDS)
STATUS_FIELDS = ("status", "version")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def facts_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The household's facts as a subscription filter reads them: no personal data."""
    return {"household_id": str(row["id"]), **{name: _plain(row[name]) for name in (*FACT_FIELDS, "status")}}


def group_record(row: Mapping[str, Any], personal: bool) -> dict[str, Any]:
    identifiers = [{"@type": "Identifier", "identifier_type": "household_id", "identifier_value": str(row["id"])}]
    record: dict[str, Any] = {
        "@type": RECORD_TYPE,
        "@id": f"urn:dsrs:household:{row['id']}",
        "group_identifier": identifiers,
        "group_type": "household",
        "group_size": row["household_size"],
        "registration_date": _plain(row["created_at"]),
        "last_updated": _plain(row["updated_at"]),
        "additional_attributes": [
            {"name": name, "value": _plain(row[name])} for name in (*FACT_FIELDS, *STATUS_FIELDS)
        ],
    }
    if not personal:
        return record
    if row["national_id"]:
        identifiers.append(
            {"@type": "Identifier", "identifier_type": "national_id", "identifier_value": row["national_id"]}
        )
    person = {
        "@type": "SRPerson",
        "name": {"@type": "Name", "given_name": row["head_of_household_name"]},
        "phone_number": row["phone"],
        "email": row["email"],
        "address": row["address"],
    }
    record["group_head_info"] = {"@type": "spdci:Member", "demographic_info": person}
    record["place"] = {"@type": "Place", "address": row["address"]}
    return record
