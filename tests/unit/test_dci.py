"""The DCI API's pieces without servers: the envelope, query translation, signatures and callback URLs."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.base import PGDialect

from dsrs.dci.callbacks import check_callback_url
from dsrs.dci.envelope import Party, refusal
from dsrs.dci.errors import DciError, QueryError
from dsrs.dci.messages import Ack, Answer, Envelope
from dsrs.dci.query import AllOf, AnyOf, Comparison, Negation, from_document, matches, parse_query, to_document, to_sql
from dsrs.dci.signature import Signer, verify

KEY = "a-key-of-at-least-thirty-two-characters"
PARTY = Party("dsrs", None, None)
REASON = "rjct.search_criteria.invalid"


def header(**changes: Any) -> dict[str, Any]:
    return {
        "message_id": "m1",
        "message_ts": "2026-12-15T10:00:00+00:00",
        "action": "search",
        "sender_id": "spmis",
        "total_count": 1,
        **changes,
    }


def body(**changes: Any) -> dict[str, Any]:
    return {"header": header(**changes), "message": {"transaction_id": "t1"}}


def code_of(party: Party, document: Any, action: str = "search") -> str:
    with pytest.raises(DciError) as refused:
        party.read(document, action)
    return refused.value.code


# --- envelope -------------------------------------------------------------------------------------------


def test_a_well_formed_envelope_is_read() -> None:
    envelope = PARTY.read(body(receiver_id="dsrs"), "search")
    assert isinstance(envelope, Envelope)
    assert envelope.header.sender_id == "spmis"


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"header": header()}, "err.request.bad"),
        (body(message_ts="yesterday"), "err.request.bad"),
        (body(message_ts="2026-12-15T10:00:00"), "err.request.bad"),
        (body(total_count=-1), "err.request.bad"),
        (body(version="2.0.0"), "err.version.not_supported"),
        (body(action="subscribe"), "err.request.bad"),
        (body(receiver_id="someone-else"), "err.receiver_id.invalid"),
        (body(is_msg_encrypted=True), "err.encryption.invalid"),
        (body(sender_id="a\x00b"), "err.request.bad"),
        ({"header": header(), "message": {"ciphertext": "x"}}, "err.encryption.invalid"),
    ],
)
def test_a_bad_envelope_is_refused_with_the_standards_code(document: dict[str, Any], code: str) -> None:
    assert code_of(PARTY, document) == code


def test_an_error_message_never_repeats_the_value_sent() -> None:
    with pytest.raises(DciError) as refused:
        PARTY.read(body(total_count="Amina Okafor +254712345678"), "search")
    assert "Amina" not in refused.value.message
    assert refused.value.message.startswith("body.header.total_count")


def test_the_ack_models_describe_what_is_answered() -> None:
    Ack.model_validate(refusal(DciError("err.request.bad", "no")))
    answer = Party("dsrs", Signer(KEY, "k1", "dsrs"), None).answer(
        "on-search", {"transaction_id": "t"}, "spmis", (1, 1)
    )
    assert Answer.model_validate(answer).header.status == "succ"
    verify(KEY, answer["signature"], answer["header"], answer["message"], time.time())


# --- signatures ------------------------------------------------------------------------------------------


def sign(key: str, document: dict[str, Any]) -> str:
    return Signer(key, "k", "spmis").sign(document["header"], document["message"], time.time())


def test_a_request_key_requires_a_valid_signature() -> None:
    party = Party("dsrs", None, KEY)
    document = body()
    assert code_of(party, document) == "err.signature.missing"
    signed = {
        **document,
        "signature": Signer(KEY, "k", "spmis").sign(document["header"], document["message"], time.time()),
    }
    party.read(signed, "search")
    forged = {
        **document,
        "signature": Signer("x" * 40, "k", "spmis").sign(document["header"], document["message"], time.time()),
    }
    assert code_of(party, forged) == "err.signature.invalid"
    tampered = {**signed, "message": {"transaction_id": "t2"}}
    assert code_of(party, tampered) == "err.signature.invalid"


def test_a_signature_holds_only_while_it_is_valid() -> None:
    signature = Signer(KEY, "k", "s").sign({"a": 1}, {"b": 2}, time.time() - 3600)
    with pytest.raises(DciError, match="not valid at this time"):
        verify(KEY, signature, {"a": 1}, {"b": 2}, time.time())
    future = Signer(KEY, "k", "s").sign({"a": 1}, {"b": 2}, time.time() + 3600)
    with pytest.raises(DciError, match="not valid at this time"):
        verify(KEY, future, {"a": 1}, {"b": 2}, time.time())


def test_a_signature_does_not_depend_on_key_order() -> None:
    now = time.time()
    signature = Signer(KEY, "k", "s").sign({"a": 1, "b": [1, 2]}, {"x": "é"}, now)
    verify(KEY, signature, {"b": [1, 2], "a": 1}, {"x": "é"}, now)
    assert signature.startswith('Signature: namespace="dci", kidId="s|k|hmac-sha256"')


# --- queries ---------------------------------------------------------------------------------------------


def predicate(*items: dict[str, Any]) -> list[dict[str, Any]]:
    return list(items)


def expr(name: str, operator: str, value: Any) -> dict[str, Any]:
    return {"attribute_name": name, "operator": operator, "attribute_value": value}


def joined(first: dict[str, Any], condition: str, second: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"expression1": first, "condition": condition, "expression2": second, **more}


def test_predicates_join_with_their_conditions_in_sequence_order() -> None:
    query = [
        joined(expr("household_size", "ge", "3"), "not", expr("region", "eq", "R02"), seq_num=2),
        joined(expr("monthly_income", "lt", 100.5), "or", expr("has_electricity", "eq", False), seq_num=1),
    ]
    condition = parse_query("predicate", query, REASON, personal=False)
    assert condition == AllOf(
        (
            AnyOf((Comparison("monthly_income", "lt", Decimal("100.5")), Comparison("has_electricity", "eq", False))),
            AllOf((Comparison("household_size", "ge", 3), Negation(Comparison("region", "eq", "R02")))),
        )
    )
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    sql = str(to_sql(condition).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    assert "households.monthly_income < 100.5 OR households.has_electricity = false" in sql
    assert "households.household_size >= 3 AND households.region != 'R02'" in sql


def test_an_expression_in_the_standards_nosql_form_and_its_aliases() -> None:
    query = {"type": "NoSql", "value": {"expression": {"collection": "Group", "query": {
        "$and": [{"group_size": {"$lt": 5}}, {"location": {"$eq": "R01"}}, {"$or": [{"region": {"$in": ["R01"]}}]}]
    }}}}  # fmt: skip
    condition = parse_query("expression", query, REASON, personal=False)
    facts = {"household_size": 4, "region": "R01"}
    assert matches(condition, facts)
    assert not matches(condition, {**facts, "household_size": 5})


def test_an_identifier_query_normalises_a_national_id() -> None:
    condition = parse_query("idtype-value", {"type": "NATIONAL_ID", "value": "ab-123 45"}, REASON, personal=True)
    assert condition == Comparison("national_id", "eq", "AB12345")
    household = str(uuid.uuid4())
    assert parse_query("idtype-value", {"type": "household_id", "value": household}, REASON, personal=False) == (
        Comparison("household_id", "eq", uuid.UUID(household))
    )


@pytest.mark.parametrize(
    ("query_type", "query"),
    [
        ("predicate", []),
        ("predicate", [{"expression1": expr("poverty_score", "eq", 1)}]),
        ("predicate", [{"expression1": expr("region", "like", "R%")}]),
        ("predicate", [{"expression1": expr("region", "gt", "R01")}]),
        ("predicate", [{"expression1": expr("household_size", "eq", "many")}]),
        ("predicate", [{"expression1": expr("household_size", "eq", 2**40)}]),
        ("predicate", [{"expression1": expr("monthly_income", "eq", "1e999")}]),
        ("predicate", [{"expression1": expr("has_electricity", "eq", 1)}]),
        ("predicate", [{"expression1": expr("region", "in", [])}]),
        (
            "predicate",
            [
                {
                    "expression1": expr("region", "eq", "R01"),
                    "condition": "xor",
                    "expression2": expr("region", "eq", "R02"),
                }
            ],
        ),
        ("predicate", [{"expression1": expr("phone", "eq", "+254712345678")}]),
        ("idtype-value", {"type": "UIN", "value": "1"}),
        ("idtype-value", {"type": "household_id", "value": "not-a-uuid"}),
        ("expression", {"type": "Sql", "value": {"expression": "SELECT 1"}}),
        ("expression", {"value": {"expression": {"collection": "Member", "query": {"region": "R01"}}}}),
        ("expression", {"value": {"expression": {"query": {"region": {"$regex": "R"}}}}}),
        ("graphql", {}),
    ],
)
def test_an_unsupported_query_is_refused_with_its_reason(query_type: str, query: Any) -> None:
    with pytest.raises(QueryError) as refused:
        parse_query(query_type, query, REASON, personal=False)
    assert refused.value.reason == REASON


def test_personal_attributes_only_for_roles_that_read_personal_data() -> None:
    query = [{"expression1": expr("phone", "eq", "+254712345678")}]
    assert parse_query("predicate", query, REASON, personal=True) == Comparison("phone", "eq", "+254712345678")


def test_a_stored_filter_reads_back_the_same() -> None:
    query = [
        joined(expr("monthly_income", "le", "250.75"), "and", expr("owns_livestock", "in", [True])),
        {"expression1": expr("household_id", "in", [str(uuid.uuid4())])},
    ]  # fmt: skip
    condition = parse_query("predicate", query, REASON, personal=False)
    assert from_document(to_document(condition)) == condition


def test_a_filter_meets_the_facts_an_event_carries() -> None:
    condition = parse_query("predicate", [{"expression1": expr("monthly_income", "lt", 200)}], REASON, personal=False)
    assert matches(condition, {"monthly_income": "180.50"})
    assert not matches(condition, {"monthly_income": "200.00"})
    assert not matches(condition, {}), "a fact the event lacks never matches"


# --- callback URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "javascript:alert(1)",
        "http://",
        "https://user:pass@example.org/",
        "http://example.org/a b",
        "http://[::1/",
        "http://example.org:99999/",
    ],
)
async def test_a_callback_url_must_be_plain_http(url: str) -> None:
    with pytest.raises(DciError) as refused:
        await check_callback_url(url, may_be_private=True)
    assert refused.value.code == "err.sender_uri.invalid"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/cb",
        "http://localhost/cb",
        "http://10.1.2.3/cb",
        "http://192.168.0.10/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/cb",
        "http://[::ffff:127.0.0.1]/cb",
        "http://0.0.0.0/cb",
        "http://[fd00::1]/cb",
    ],
)
async def test_in_production_a_callback_must_reach_a_public_address(url: str) -> None:
    await check_callback_url(url, may_be_private=True)
    with pytest.raises(DciError) as refused:
        await check_callback_url(url, may_be_private=False)
    assert refused.value.code == "err.sender_uri.invalid"


async def test_a_public_address_is_a_callback_anywhere() -> None:
    await check_callback_url("https://8.8.8.8/dci/on-search", may_be_private=False)
