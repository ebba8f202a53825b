"""Dead letters over HTTP: the events the worker could not count, and why.

Read from the ``dead_letters`` table the worker mirrors the dead-letter
topic to (:mod:`costline.dead_letters`). A letter belongs to the customer its
payload names; one whose payload names none (not JSON, say) is shown only to
keys bound to no customer.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from billing import inputs
from costline.api.auth import Forbidden, require_customer
from costline.api.keys import ApiKey, Scope
from costline.api.pages import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page
from costline.api.reading import READ_ERRORS, parsed
from costline.api.service import ApiError, authenticated, service_of
from costline.dead_letters import LetterFilter, LetterKey, StoredLetter, stored_letter, stored_letters
from schemas.dead_letters import DeadLetterCode

router = APIRouter(tags=["read"])


class DeadLetterSummary(BaseModel):
    letter_id: str = Field(description="topic:partition:offset:index; GET /v1/dead-letters/{letter_id}")
    code: str
    reason: str
    topic: str
    partition: int
    offset: int
    index: int = Field(description="the event's place in its message (a message may hold an array)")
    customer: str | None = Field(description="the customer_id the payload names; null if it names none")
    received_at: str = Field(description="when the worker dead-lettered it, ISO 8601 UTC")
    payload_bytes: int


class DeadLetterDetail(DeadLetterSummary):
    key: str = Field(description="the Kafka key it came with")
    payload: str | None = Field(description="the payload as text; null if it is not UTF-8")
    payload_base64: str = Field(description="the payload exactly as it came")


def _summary(letter: StoredLetter) -> dict[str, object]:
    return {
        "letter_id": letter.letter_id,
        "code": letter.code,
        "reason": letter.reason,
        "topic": letter.source_topic,
        "partition": letter.source_partition,
        "offset": letter.source_offset,
        "index": letter.source_index,
        "customer": letter.customer,
        "received_at": letter.failed_at.isoformat(timespec="milliseconds"),
        "payload_bytes": letter.payload_bytes,
    }


@router.get(
    "/v1/dead-letters",
    summary="Dead letters, in the order they failed",
    response_model=Page[DeadLetterSummary],
    responses=READ_ERRORS,
)
async def list_dead_letters(
    request: Request,
    key: Annotated[ApiKey, Depends(authenticated(Scope.READ))],
    code: Annotated[DeadLetterCode | None, Query(description="only letters with this code")] = None,
    since: Annotated[str | None, Query(description="only letters received at or after, ISO 8601")] = None,
    customer: Annotated[
        str | None, Query(description="only this customer's (a bound key must give it)")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[DeadLetterSummary]:
    require_customer(key, customer)
    which = LetterFilter(code, parsed("since", inputs.instant, since) if since else None, customer)
    after: LetterKey | None = decode_cursor(cursor, (str, str, int, int, int))  # type: ignore[assignment]
    if after is not None:
        parsed("cursor", inputs.instant, after[0])
    letters = await service_of(request).read(lambda client: stored_letters(client, which, after, limit + 1))
    shown, next_cursor = page(letters, limit, lambda letter: letter.key)
    return Page[DeadLetterSummary](
        data=[DeadLetterSummary.model_validate(_summary(letter)) for letter in shown], next_cursor=next_cursor
    )


@router.get(
    "/v1/dead-letters/{letter_id}",
    summary="One dead letter with its payload",
    response_model=DeadLetterDetail,
    responses={**READ_ERRORS, 404: {"description": "no such letter"}},
)
async def get_dead_letter(
    request: Request, key: Annotated[ApiKey, Depends(authenticated(Scope.READ))], letter_id: str
) -> DeadLetterDetail:
    letter = await service_of(request).read(lambda client: stored_letter(client, letter_id))
    if letter is None:
        raise ApiError(404, f"no dead letter {letter_id!r}")
    if key.customer_id is not None and letter.customer != key.customer_id:
        raise Forbidden(f"this key reads only customer {key.customer_id!r}'s dead letters; this one is not")
    payload = letter.payload or b""
    try:
        text: str | None = payload.decode()
    except UnicodeDecodeError:
        text = None
    return DeadLetterDetail.model_validate(
        _summary(letter)
        | {"key": letter.message_key, "payload": text, "payload_base64": base64.b64encode(payload).decode()}
    )
