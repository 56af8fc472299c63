"""Orders of customers."""

from __future__ import annotations

import uuid
from functools import partial

from fastapi import APIRouter, Request, Response, status

from app.db import Session
from app.errors import problem_responses
from app.models.orders import Order, OrderCreate, OrderPage, OrderPublic, OrderUpdate
from app.pagination import cut, decode_time_id, encode_cursor
from app.routers._http import (
    Created,
    Cursor,
    IdempotentCreate,
    IfMatch,
    Limit,
    expected_versions,
    shown,
)
from app.security import Staff, Writer
from app.services import orders as service

router = APIRouter(tags=["orders"])
_CREATED = Created(
    public=partial(OrderPublic.model_validate, from_attributes=True),
    location="/v1/orders/{id}",
    subject=lambda order: order.customer_id,
)


def _public(order: Order, response: Response) -> OrderPublic:
    return shown(response, order, OrderPublic)


@router.post(
    "/v1/customers/{customer_id}/orders",
    status_code=status.HTTP_201_CREATED,
    summary="Record an order",
    description="Records an order of the customer: lines, total and currency (ISO 4217), and the invoice "
    "status, on which erasure depends (an open or in-collection invoice is a legal claim).",
    responses=problem_responses(400, 401, 403, 404, 409, 415, 422),
    response_model=OrderPublic,
)
async def create_order(
    customer_id: uuid.UUID, data: OrderCreate, actor: Writer, once: IdempotentCreate
) -> OrderPublic | Response:
    return await once.create(
        _CREATED, actor, lambda s: service.create_order(session=s, actor=actor, customer_id=customer_id, data=data)
    )


@router.get(
    "/v1/customers/{customer_id}/orders",
    summary="List a customer's orders",
    description="Customer service and admins only. Lists the customer's orders in the order they were recorded; "
    "follow `next`.",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_orders(
    customer_id: uuid.UUID,
    request: Request,
    session: Session,
    actor: Staff,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> OrderPage:
    rows = await service.list_orders(
        session=session,
        actor=actor,
        customer_id=customer_id,
        after=decode_time_id(cursor) if cursor else None,
        limit=limit + 1,
    )
    rows, next_url = cut(rows, limit, request.url, lambda row: encode_cursor(row.created_at, row.id))
    return OrderPage(
        items=[OrderPublic.model_validate(o, from_attributes=True) for o in rows],
        next=next_url,
    )


@router.patch(
    "/v1/orders/{order_id}",
    summary="Change an order",
    description="Changes the fields sent, typically `invoice_status`. With `If-Match`, an order changed since "
    "you read it is left alone and the answer is 412. The orders of a restricted (Art. 18) or erased person are "
    "only stored: their `invoice_status` may still change, to settle or collect the invoice; any other change "
    "is 409.",
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422),
)
async def update_order(
    order_id: uuid.UUID,
    data: OrderUpdate,
    session: Session,
    actor: Writer,
    response: Response,
    if_match: IfMatch = None,
) -> OrderPublic:
    order = await service.update_order(
        session=session, actor=actor, order_id=order_id, data=data, expected=expected_versions(if_match)
    )
    return _public(order, response)
