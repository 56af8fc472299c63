"""Customers: the register itself."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.db import Session
from app.errors import Unprocessable, problem_responses
from app.models.customers import (
    Customer,
    CustomerCreate,
    CustomerPage,
    CustomerPublic,
    CustomerUpdate,
    ImportErrorLine,
    ImportResult,
)
from app.models.disclosures import DisclosurePage, DisclosurePublic
from app.pagination import cut, decode_time_id, encode_cursor
from app.routers._http import (
    Created,
    Cursor,
    IdempotencyKey,
    IdempotentCreate,
    IfMatch,
    Limit,
    expected_versions,
    shown,
)
from app.security import Officer, Staff, Writer
from app.services import customer_import, disclosures, idempotency
from app.services import customers as service

router = APIRouter(prefix="/v1/customers", tags=["customers"])

_CREATED = Created(
    public=partial(CustomerPublic.model_validate, from_attributes=True),
    location="/v1/customers/{id}",
    subject=lambda customer: customer.id,
)
ExternalId = Annotated[str, Path(min_length=1, max_length=200, description="The calling system's own id.")]


def _public(customer: Customer, response: Response) -> CustomerPublic:
    return shown(response, customer, CustomerPublic)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a customer",
    description="Adds a person to the register. E-mail and phone are validated (phone stored as E.164), a "
    "business ID must have a valid check digit, the country is ISO 3166-1 alpha-2. An `external_id` must be "
    "new; to create-or-update by it, use `PUT /v1/customers/by-external-id/{external_id}`.",
    responses=problem_responses(400, 401, 403, 409, 415, 422),
    response_model=CustomerPublic,
)
async def create_customer(data: CustomerCreate, actor: Writer, once: IdempotentCreate) -> CustomerPublic | Response:
    return await once.create(_CREATED, actor, lambda s: service.create_customer(session=s, actor=actor, data=data))


_IMPORT_EXAMPLE = (
    '{"external_id": "shop-10042", "first_name": "Maija", "last_name": "Meikäläinen", "email": "maija@example.fi"}\n'
    '{"external_id": "shop-10043", "organisation": "Oy Yritys Ab", "kind": "business", "phone": "040 123 4567"}\n'
)


@router.post(
    "/import",
    summary="Import customers (NDJSON), upserting by external id",
    description="One customer per line, as `PUT /v1/customers/by-external-id/{external_id}` takes one, with its "
    "`external_id` in the line: a new one creates the customer, a known one replaces it. Every change is "
    "audited. A line that is not JSON, not a valid customer, longer than 128 KiB (or than a JSON body may be, "
    "`REKISTERI_MAX_BODY_BYTES`, if that is less), or not allowed (the person was erased, or is restricted and "
    "the line changes more than the contested fields) applies nothing and is reported by "
    "number; every other line applies whole. The import is one transaction: if the connection drops or the "
    "server dies before the answer, nothing of it was applied. `on_error=abort`: one bad line and nothing is "
    "applied (422, with every bad line). Streamed: send as much as you like in one body (up to "
    "`REKISTERI_MAX_STREAM_BYTES`). `Idempotency-Key` makes a retry safe. Concurrent writers of the same "
    "external ids wait for the import to commit (an import of over 100 lines: writers of any external id); "
    "other edits of the register are not held up.",
    response_model=ImportResult,
    responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "Customers, one JSON object a line."},
                    "example": _IMPORT_EXAMPLE,
                }
            },
        }
    },
)
async def import_customers(
    request: Request,
    session: Session,
    actor: Writer,
    response: Response,
    on_error: Annotated[
        Literal["skip", "abort"], Query(description="`skip`: report bad lines, apply the rest; `abort`: apply none.")
    ] = "skip",
    idempotency_key: IdempotencyKey = None,
) -> ImportResult | Response:
    digest = idempotency.hasher(request.method, request.url.path)
    if idempotency_key is not None:
        first = await idempotency.claim(session=session, actor=actor, key=idempotency_key, fingerprint=None)
        if first is not None:
            async for chunk in request.stream():
                digest.update(chunk)
            if first.fingerprint != digest.digest():
                raise Unprocessable(
                    "This Idempotency-Key was used for another import; use a new key for a new request.",
                    loc=("header", "Idempotency-Key"),
                )
            return Response(
                first.body, status_code=first.status or 200, headers={**first.headers, "idempotent-replayed": "true"}
            )
    report = await customer_import.run(
        session=session,
        actor=actor,
        chunks=request.stream(),
        abort_on_error=on_error == "abort",
        digest=digest,
        max_line=min(request.app.state.settings.max_body_bytes, customer_import.MAX_LINE),
    )
    if on_error == "abort" and report.failed:
        raise report.refusal(f"{report.failed} line(s) are not valid; nothing was imported.")
    errors = [ImportErrorLine(**e) for e in report.errors]
    answer = ImportResult(
        lines=report.lines,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        failed=report.failed,
        errors=errors,
        errors_omitted=report.failed - len(errors),
    )
    if idempotency_key is not None:
        await idempotency.record(
            session=session,
            actor=actor,
            key=idempotency_key,
            status=200,
            body=answer.model_dump_json().encode(),
            headers={"content-type": "application/json"},
            subject_id=None,
            fingerprint=digest.digest(),
        )
    return answer


@router.get(
    "",
    summary="Find customers",
    description="Customer service and admins only. Lists customers in the order they were added, 50 a page by "
    "default; follow `next`. Filters "
    "combine: `email` (exact, any case), `phone` (any format, compared as E.164), `name` (part of the full "
    "name or organisation, any case), `external_id` (exact). A customer added while you page through may be "
    "missed; to follow every change without gaps, read `GET /v1/audit` by its `seq`.",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_customers(
    request: Request,
    session: Session,
    actor: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
    email: Annotated[str | None, Query(max_length=320)] = None,
    phone: Annotated[str | None, Query(max_length=32)] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    external_id: Annotated[str | None, Query(max_length=200)] = None,
) -> CustomerPage:
    rows = await service.list_customers(
        session=session,
        actor=actor,
        after=decode_time_id(cursor) if cursor else None,
        limit=limit + 1,
        email=email,
        phone=phone,
        name=name,
        external_id=external_id,
    )
    rows, next_url = cut(rows, limit, request.url, lambda row: encode_cursor(row.created_at, row.id))
    return CustomerPage(
        items=[CustomerPublic.model_validate(c, from_attributes=True) for c in rows],
        next=next_url,
    )


@router.get(
    "/{customer_id:uuid}",
    summary="Read a customer",
    description="Returns the customer with an `ETag`; send it back in `If-Match` when you change them. Shops' "
    "`integration` keys may read a customer by id (there is no list or search for them).",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_customer(customer_id: uuid.UUID, session: Session, actor: Writer, response: Response) -> CustomerPublic:
    return _public(await service.get_customer(session=session, actor=actor, customer_id=customer_id), response)


@router.patch(
    "/{customer_id:uuid}",
    summary="Change a customer",
    description="Customer service and admins only (a shop replaces its own customer by external id). Changes "
    "the fields sent; fields left out stay, `null` clears one. With `If-Match`, a customer "
    "changed since you read it is left alone and the answer is 412. Every changed field is audited with its "
    "old and new value.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def update_customer(
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    session: Session,
    actor: Staff,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerPublic:
    customer = await service.update_customer(
        session=session, actor=actor, customer_id=customer_id, data=data, expected=expected_versions(if_match)
    )
    return _public(customer, response)


@router.delete(
    "/{customer_id:uuid}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a customer",
    description="Customer service and admins only. Deletes a customer who has no orders and destroys their "
    "audit key, so the values in their audit history can no longer be read. A customer with orders is "
    "refused with 409: orders are accounting records, and an erasure request decides what must be kept.",
    responses=problem_responses(401, 403, 404, 409, 412, 422),
)
async def delete_customer(customer_id: uuid.UUID, session: Session, actor: Staff, if_match: IfMatch = None) -> None:
    await service.delete_customer(
        session=session, actor=actor, customer_id=customer_id, expected=expected_versions(if_match)
    )


@router.put(
    "/by-external-id/{external_id}",
    summary="Create or replace by external id",
    description="The idempotent upsert for e-commerce systems: creates the customer with this external id "
    "(201) or replaces their data with the body (200); fields left out become empty. Sending the same body "
    "again changes nothing and writes no audit event. A customer whose data was erased, or is restricted "
    "(GDPR Art. 18) beyond the contested fields, is 409: what is kept may only be stored.",
    responses={
        201: {"description": "Created", "model": CustomerPublic},
        **problem_responses(400, 401, 403, 409, 412, 415, 422),
    },
)
async def upsert_customer(
    external_id: ExternalId,
    data: CustomerCreate,
    session: Session,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerPublic:
    customer, created = await service.upsert_by_external_id(
        session=session,
        actor=actor,
        external_id=external_id,
        data=data,
        expected=expected_versions(if_match),
        must_exist=if_match is not None,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/customers/{customer.id}"
    return _public(customer, response)


@router.get(
    "/{customer_id:uuid}/disclosures",
    summary="Who received the customer's data",
    description="The person's disclosure log, newest first, 50 a page by default; follow `next`. Each entry is "
    "one time data about the person left the service to a recipient of the controller's register (GDPR Art. "
    "15(1)(c), 19, 30(1)(d)): the recipient's id and its name then, the categories of data, the channel "
    "(`webhook`: a delivery the receiver took; `export`: an access or portability export downloaded by the "
    "recipient's key; `campaign` and `marketing_check`: a marketing check answered to it), the delivery or "
    "request it went with, and when. Entries are erased with the person's data. The access export names the "
    "same recipients, with the dates of the first and latest disclosure.",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_disclosures(
    customer_id: uuid.UUID, request: Request, session: Session, actor: Officer, limit: Limit = 50, cursor: Cursor = None
) -> DisclosurePage:
    rows = await disclosures.for_customer(
        session=session,
        actor=actor,
        customer_id=customer_id,
        after=decode_time_id(cursor) if cursor else None,
        limit=limit + 1,
    )
    rows, next_url = cut(rows, limit, request.url, lambda row: encode_cursor(row.disclosed_at, row.id))
    return DisclosurePage(items=[DisclosurePublic.model_validate(d) for d in rows], next=next_url)
