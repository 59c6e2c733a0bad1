"""Conformance with the DCI standard's own OpenAPI documents (Social Registry API v1.0.0, and the registry
core API for subscriptions): our requests and answers validated against their schemas.

The standard's files may not be kept in this repository, and CI cannot fetch them: this test reads them
from the folder DSRS_DCI_SPEC_DIR names (social_api_v1.0.0.yaml and registry_core_api_v1.0.0.yaml from
the spdci/standards repository's release/yaml/) and is skipped without it. The pydantic models of
dsrs.dci.messages are what the always-running tests check.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from dsrs.dci.envelope import Party, ack, refusal
from dsrs.dci.errors import DciError
from dsrs.dci.notify import notification
from dsrs.dci.query import Comparison
from dsrs.dci.search import search_response
from dsrs.dci.signature import Signer
from dsrs.dci.subscriptions import Subscription, subscribe_response, unsubscribe_response
from dsrs.events.envelope import new_envelope
from tests.dci_messages import now, predicate, request, search_message

SPEC_DIR = os.environ.get("DSRS_DCI_SPEC_DIR")
pytestmark = pytest.mark.skipif(
    not SPEC_DIR,
    reason="DSRS_DCI_SPEC_DIR is unset: set it to a folder holding the DCI standard's social_api_v1.0.0.yaml "
    "and registry_core_api_v1.0.0.yaml (spdci/standards, release/yaml/) to check conformance",
)
SOCIAL, CORE = "social_api_v1.0.0.yaml", "registry_core_api_v1.0.0.yaml"
KEY = "a-key-of-at-least-thirty-two-characters"
PARTY = Party("dsrs", Signer(KEY, "k1", "dsrs"), None)


@cache
def registry() -> Registry[Any]:
    folder = Path(SPEC_DIR or ".")
    resources = []
    for name in (SOCIAL, CORE):
        document = yaml.safe_load((folder / name).read_text())
        _mend(document)
        resources.append((f"urn:dci:{name}", Resource.from_contents(document, default_specification=DRAFT4)))
    return Registry().with_resources(resources)


def _mend(document: dict[str, Any]) -> None:
    """The social API's search request refers to its own query schema by a path that runs through a $ref
    (`.../message/oneOf/0/properties/...`), which JSON pointers cannot follow: inline that $ref so it resolves."""
    for path in ("/registry/search", "/registry/sync/search"):
        operation = document["paths"].get(path, {}).get("post", {})
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        branches = schema.get("properties", {}).get("message", {}).get("oneOf", [])
        if branches and branches[0].get("$ref") == "#/components/schemas/SearchRequest":
            branches[0] = copy.deepcopy(document["components"]["schemas"]["SearchRequest"])


def _leaves(error: Any) -> list[Any]:
    """The errors to show: under a oneOf that no branch fits, those of the branch that got furthest."""
    if not error.context:
        return [error]
    branches: dict[Any, list[Any]] = {}
    for child in error.context:
        branches.setdefault(child.schema_path[0] if child.schema_path else None, []).append(child)
    furthest = max(branches.values(), key=lambda group: max(len(child.absolute_path) for child in group))
    return [leaf for child in furthest for leaf in _leaves(child)]


def problems(spec: str, pointer: str, instance: Any) -> list[str]:
    validator = OAS30Validator({"$ref": f"urn:dci:{spec}#{pointer}"}, registry=registry())
    return [
        f"{'/'.join(map(str, leaf.absolute_path))}: {leaf.message}"[:200]
        for error in validator.iter_errors(instance)
        for leaf in _leaves(error)
    ]


def body_of(path: str) -> str:
    return f"/paths/{path.replace('/', '~1')}/post/requestBody/content/application~1json/schema"


def answer_of(path: str) -> str:
    return f"/paths/{path.replace('/', '~1')}/post/responses/default/content/application~1json/schema"


ACK = "/components/responses/Response/content/application~1json/schema"
ROW = {
    "id": uuid.uuid4(),
    "head_of_household_name": "Amina Okafor",
    "phone": "+254712345678",
    "national_id": "AB12345",
    "email": None,
    "address": "12 Market Road",
    "region": "R01",
    "household_size": 5,
    "children_under_5": 1,
    "children_5_to_17": 2,
    "elderly_members": 0,
    "disabled_members": 0,
    "monthly_income": "180.50",
    "dwelling_rooms": 2,
    "has_electricity": False,
    "has_piped_water": False,
    "owns_livestock": False,
    "status": "active",
    "version": 1,
    "created_at": datetime.now(UTC),
    "updated_at": datetime.now(UTC),
}

# Attribute values are strings or decimals: in the standard's schema a JSON integer is both an `integer` and
# a `number` of its `oneOf`, so no request with an integer value validates. DSRS accepts either.
BY_ATTRIBUTE = {
    "query_type": "predicate",
    "query": predicate(("region", "eq", "R01"), ("household_size", "ge", "3")),
    "sort": [{"attribute_name": "household_size", "sort_order": "desc"}],
    "pagination": {"page_size": 10, "page_number": 1},
}
BY_ID = {"query_type": "idtype-value", "query": {"type": "household_id", "value": str(ROW["id"])}}
BY_EXPRESSION = {
    "query_type": "expression",
    "query": {"type": "NoSql", "value": {"expression": {"collection": "Group", "query": {"location": "R01"}}}},
}


@pytest.mark.parametrize("path", ["/registry/sync/search", "/registry/search"])
def test_our_search_requests_are_the_standards(path: str) -> None:
    message = search_message(BY_ATTRIBUTE, BY_ID)
    document = request("search", message, 2, KEY, "https://spmis.example.org/on-search")
    assert problems(SOCIAL, body_of(path), document) == []
    PARTY.read(document, "search")


def test_the_standards_expression_query_fits_two_of_its_forms() -> None:
    """An `expression` query ({type, value: {expression: ...}}) is also an identifier query ({type, value} with
    an object value), so the standard's `oneOf` refuses it: this records that, and fails once it is fixed."""
    document = request("search", search_message(BY_EXPRESSION), 1, KEY)
    found = problems(SOCIAL, body_of("/registry/sync/search"), document)
    assert len(found) == 1
    assert found[0].startswith("message/search_request/0/search_criteria/query: ")
    assert "is valid under each of" in found[0]


def test_our_search_answer_and_its_callback_are_the_standards() -> None:
    outcome = {
        "reference_id": "ref-0",
        "timestamp": now(),
        "household_ids": [str(ROW["id"])],
        "pagination": {"page_size": 10, "page_number": 1, "total_count": 1},
        "locale": "eng",
    }
    message = search_response("t1", str(uuid.uuid4()), [outcome], {str(ROW["id"]): ROW}, personal=True)
    answer = PARTY.answer("on-search", message, "spmis", (1, 1))
    assert problems(SOCIAL, answer_of("/registry/sync/search"), answer) == []
    assert problems(SOCIAL, body_of("/registry/on-search"), answer) == []


@pytest.mark.parametrize("spec", [SOCIAL, CORE])
def test_our_acknowledgements_are_the_standards(spec: str) -> None:
    assert problems(spec, ACK, ack(str(uuid.uuid4()))) == []
    assert problems(spec, ACK, refusal(DciError("err.signature.invalid", "the signature does not match"))) == []


def test_our_subscription_requests_and_answers_are_the_standards() -> None:
    items = [
        {
            "reference_id": "sub-1",
            "timestamp": now(),
            "subscribe_criteria": {
                "reg_event_type": "UPDATE",
                "filter_type": "predicate",
                "filter": predicate(("region", "eq", "R01")),
                "notify_record_type": "spdci:Group",
            },
        }
    ]
    document = request("subscribe", {"transaction_id": "t1", "subscribe_request": items}, 1, KEY, "https://s.example")
    assert problems(CORE, body_of("/registry/subscribe"), document) == []
    code = str(uuid.uuid4())
    outcome = {"items": [{**items[0], "code": code, "criteria": items[0]["subscribe_criteria"]}]}
    on_subscribe = PARTY.signed(
        {**PARTY.header("on-subscribe", "spmis", (1, 1)), "sender_id": "dsrs"},
        subscribe_response("t1", str(uuid.uuid4()), outcome),
    )
    # on-subscribe's header is the request header (MsgHeader), which also requires total_count.
    assert problems(CORE, body_of("/registry/on-subscribe"), on_subscribe) == []


def test_our_unsubscribe_answer_is_the_standards() -> None:
    outcome = {"timestamp": now(), "subscription_status": [{"code": str(uuid.uuid4()), "status": "unsubscribe"}]}
    answer = PARTY.signed(PARTY.header("on-unsubscribe", "spmis", (1, 1)), unsubscribe_response("t", "c", outcome))
    assert problems(CORE, body_of("/registry/on-unsubscribe"), answer) == []


def test_the_standards_unsubscribe_request_asks_for_a_misspelt_field() -> None:
    """UnSubscribeRequest lists `subscription_codes` but requires `sunscription_codes` (and `timestamp`, beside
    a `timesstamp` property): a request with only the listed names cannot validate. DSRS reads
    `subscription_codes`; this test records the standard's typo, and fails once the standard fixes it."""
    message = {"transaction_id": "t1", "timestamp": now(), "subscription_codes": [str(uuid.uuid4())]}
    found = problems(CORE, body_of("/registry/unsubscribe"), request("unsubscribe", message, 1, KEY))
    assert found == ["message: 'sunscription_codes' is a required property"]


def test_our_notifications_are_the_standards() -> None:
    subscription = Subscription(
        uuid.uuid4(), "sub-1", "t1", "spmis", "https://s.example", frozenset({"UPDATE"}),
        Comparison("region", "eq", "R01"), personal_data=True,
    )  # fmt: skip
    event = new_envelope("registry.household.updated", str(ROW["id"]), {"version": 2}, "dsrs")
    header, message = notification(PARTY, subscription, event, ROW)
    assert problems(CORE, body_of("/registry/notify"), PARTY.signed(header, message)) == []


def test_our_transaction_status_requests_and_answers_are_the_standards() -> None:
    item = {"reference_id": "r1", "txn_type": "search", "attribute_type": "reference_id_list", "attribute_value": ["a"]}
    status_request = {"transaction_id": "t2", "txnstatus_request": item}
    document = request("txn-status", status_request, 1, KEY, "https://spmis.example.org/on-status")
    for path in ("/registry/sync/txn/status", "/registry/txn/status"):
        assert problems(SOCIAL, body_of(path), document) == []
    # A single id (transaction_id, correlation_id) is a string that fits two branches of the standard's
    # `oneOf` (TransactionId and correlation_id), so only lists validate; DSRS takes both.
    single = {**item, "attribute_type": "transaction_id", "attribute_value": "t1"}
    found = problems(
        SOCIAL,
        body_of("/registry/sync/txn/status"),
        {**document, "message": {**status_request, "txnstatus_request": single}},
    )
    assert len(found) == 1
    assert "is valid under each of" in found[0]
    outcome = {
        "reference_id": "ref-0",
        "timestamp": now(),
        "household_ids": [],
        "pagination": {"page_size": 10, "page_number": 1, "total_count": 0},
    }
    status = {"txn_type": "search", "txn_status": search_response("t1", "c1", [outcome], {}, personal=False)}
    answer = PARTY.answer(
        "txn-on-status", {"transaction_id": "t2", "correlation_id": "c2", "txnstatus_response": status}, "s", (1, 1)
    )
    assert problems(SOCIAL, answer_of("/registry/sync/txn/status"), answer) == []
    assert problems(SOCIAL, body_of("/registry/txn/on-status"), answer) == []


def test_a_signature_is_a_string_as_the_standard_says() -> None:
    assert problems(SOCIAL, "/components/schemas/MsgSignature", PARTY.signer.sign({}, {}, time.time())) == []  # type: ignore[union-attr]
