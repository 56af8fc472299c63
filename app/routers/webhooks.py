"""Webhooks: subscriptions and their deliveries (admins)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from app.db import Session
from app.errors import problem_responses
from app.models.webhooks import (
    Attempt,
    DeliveryPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
)
from app.pagination import cut, decode_time_id, decode_uuid, encode_cursor
from app.routers._http import Cursor, Limit
from app.security import Admin
from app.services import webhooks as service

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe to events",
    description="Every event (e.g. `marketing.changed`, when a person's marketing permissions change) is POSTed "
    "as JSON to the URL after the change commits, signed per the Standard Webhooks scheme: headers "
    "`webhook-id` (the same on every retry: deduplicate by it), `webhook-timestamp` and `webhook-signature` "
    "(`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the secret). Anything but a 2xx, or no answer "
    "within 10 s (15 s for the whole exchange), is retried with exponential backoff: the first attempt and 8 "
    "retries. Outside development the URL must be https on a public address (422 for an internal address or "
    "`localhost`; a name is checked on every delivery). The secret is in this answer only. The subscriber is a "
    "recipient of the register: `recipient` names it in the controller's profile (`recipients`, `PUT /v1/controller`; "
    "422 if it is not there), every delivery about a person that the receiver takes is logged as a disclosure "
    "to it (`GET /v1/customers/{id}/disclosures`), and it stays in the register while the subscription lives. "
    "A recipient that received a person's data is sent their rectification, restriction and erasure whatever "
    "it subscribed to (GDPR Art. 19).",
    responses=problem_responses(400, 401, 403, 415, 422),
)
async def create_webhook(data: WebhookCreate, session: Session, actor: Admin, response: Response) -> WebhookCreated:
    webhook, secret = await service.create(session=session, actor=actor, data=data)
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    return WebhookCreated(**WebhookPublic.model_validate(webhook, from_attributes=True).model_dump(), secret=secret)


@router.get(
    "",
    summary="List subscriptions",
    description="The controller's live webhook subscriptions (never their secrets).",
    responses=problem_responses(400, 401, 403, 422),
)
async def list_webhooks(
    request: Request, session: Session, actor: Admin, limit: Limit = 50, cursor: Cursor = None
) -> WebhookPage:
    rows = await service.list_webhooks(
        session=session, actor=actor, after=decode_uuid(cursor) if cursor else None, limit=limit + 1
    )
    rows, next_url = cut(rows, limit, request.url, lambda hook: str(hook.id))
    return WebhookPage(items=[WebhookPublic.model_validate(w, from_attributes=True) for w in rows], next=next_url)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unsubscribe",
    description="Stops the subscription at once; deliveries not yet made are cancelled, the history stays.",
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(webhook_id: uuid.UUID, session: Session, actor: Admin) -> None:
    await service.delete(session=session, actor=actor, webhook_id=webhook_id)


@router.get(
    "/{webhook_id}/deliveries",
    summary="Deliveries and their attempts",
    description="Each event sent to this subscriber, newest first (by time, then id): its status (`pending`, "
    "`delivered`, `failed` after the last retry, `cancelled`) and every attempt with the answer's status code or "
    "the connection error.",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: uuid.UUID, request: Request, session: Session, actor: Admin, limit: Limit = 50, cursor: Cursor = None
) -> DeliveryPage:
    rows = await service.deliveries(
        session=session,
        actor=actor,
        webhook_id=webhook_id,
        after=decode_time_id(cursor) if cursor else None,
        limit=limit + 1,
    )
    rows, next_url = cut(rows, limit, request.url, lambda row: encode_cursor(row[0].created_at, row[0].id))
    return DeliveryPage(
        items=[
            DeliveryPublic(
                id=d.id,
                event_id=d.event_id,
                event_type=event_type,
                status=d.status,
                attempts=[Attempt(**a) for a in d.attempts],
                delivered_at=d.delivered_at,
                created_at=d.created_at,
            )
            for d, event_type in rows
        ],
        next=next_url,
    )
