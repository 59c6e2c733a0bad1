"""The DCI message envelope (signature, header, message) and the messages DSRS reads, as pydantic models.

Models accept the standard's extension fields (extra="allow") but type-check every field DSRS uses.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from dsrs.dci.errors import REQUEST_BAD, DciError

DCI_VERSION = "1.0.0"
MAX_ITEMS = 20  # search, subscribe requests in one message
MAX_PAGE_SIZE = 500
QueryType = Literal["idtype-value", "expression", "predicate"]
Text = Annotated[str, Field(min_length=1, max_length=99)]
M = TypeVar("M", bound=BaseModel)


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class RequestHeader(Open):
    """`MsgHeader_V1.0.0`: the header of every request."""

    version: str = DCI_VERSION
    message_id: Text
    message_ts: AwareDatetime
    action: Text
    sender_id: Text
    sender_uri: Annotated[str, Field(max_length=2000)] | None = None
    receiver_id: Text | None = None
    total_count: Annotated[int, Field(ge=0, le=10_000)]
    is_msg_encrypted: bool = False
    meta: dict[str, Any] | None = None


class Envelope(Open):
    """A request: its signature (see dsrs.dci.signature), header and message."""

    signature: str | None = None
    header: RequestHeader
    message: dict[str, Any]


class CallbackHeader(Open):
    """`MsgCallbackHeader_V1.0.0`: the header of every answer and callback DSRS sends."""

    version: str = DCI_VERSION
    message_id: str
    message_ts: str
    action: str
    status: Literal["rcvd", "pdng", "succ", "rjct"]
    status_reason_code: str | None = None
    status_reason_message: str | None = None
    total_count: int | None = None
    completed_count: int | None = None
    sender_id: str | None = None
    receiver_id: str | None = None
    is_msg_encrypted: bool = False


class Answer(Open):
    """A synchronous answer, or a callback: signed when DSRS has a signing key."""

    signature: str | None = None
    header: CallbackHeader
    message: dict[str, Any]


class AckError(BaseModel):
    code: str
    message: str


class AckMessage(BaseModel):
    ack_status: Literal["ACK", "NACK", "ERR"]
    timestamp: str
    correlation_id: str
    error: AckError | None = None


class Ack(BaseModel):
    """The standard's acknowledgement: ACK, or ERR with the error's code and message."""

    message: AckMessage


# --- search ---------------------------------------------------------------------------------------------


class PageRequest(Open):
    page_size: Annotated[int, Field(ge=1, le=1_000_000)]
    page_number: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class Sort(Open):
    attribute_name: Text
    sort_order: Literal["asc", "desc"] = "asc"


class SearchCriteria(Open):
    version: str = DCI_VERSION
    reg_event_type: str | None = None
    query_type: QueryType
    response_entity: str | None = None
    query: Any
    sort: Annotated[list[Sort], Field(max_length=5)] = []
    pagination: PageRequest | None = None


class Item(Open):
    """One request of a message: its reference, time and language; subclasses add what it asks."""

    reference_id: Text
    timestamp: AwareDatetime
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}$")] | None = None


class SearchItem(Item):
    search_criteria: SearchCriteria


class SearchRequest(Open):
    transaction_id: Text
    search_request: Annotated[list[SearchItem], Field(min_length=1, max_length=MAX_ITEMS)]


# --- subscriptions --------------------------------------------------------------------------------------


class SubscribeCriteria(Open):
    version: str = DCI_VERSION
    reg_type: str | None = None
    reg_event_type: Text
    filter_type: QueryType = "predicate"
    filter: Any
    notify_record_type: Text


class SubscribeItem(Item):
    subscribe_criteria: SubscribeCriteria


class SubscribeRequest(Open):
    transaction_id: Text
    subscribe_request: Annotated[list[SubscribeItem], Field(min_length=1, max_length=MAX_ITEMS)]


class UnsubscribeRequest(Open):
    transaction_id: Text
    timestamp: AwareDatetime | None = None
    subscription_codes: Annotated[list[Text], Field(min_length=1, max_length=100)]


# --- transaction status ---------------------------------------------------------------------------------

TxnType = Literal["search", "subscribe", "unsubscribe"]
AttributeType = Literal["transaction_id", "reference_id_list", "correlation_id", "subscription_code_list"]


class TxnStatusItem(Open):
    reference_id: Text
    txn_type: TxnType
    attribute_type: AttributeType
    attribute_value: Text | Annotated[list[Text], Field(min_length=1, max_length=100)]


class TxnStatusRequest(Open):
    transaction_id: Text
    txnstatus_request: TxnStatusItem


def parsed(model: type[M], document: Any, where: str) -> M:
    """`document` as `model`, or err.request.bad naming each bad field (never its value)."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{where}.{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
            for detail in error.errors(include_input=False, include_url=False, include_context=False)
        ]
        raise DciError(REQUEST_BAD, "; ".join(problems[:5])) from None
