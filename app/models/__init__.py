"""SQLModel tables and API schemas, one module per domain; importing this registers every table."""

from app.models import (  # noqa: F401
    api_keys,
    audit,
    controllers,
    customers,
    disclosures,
    idempotency,
    marketing,
    notices,
    orders,
    requests,
    suppression,
    webhooks,
)
from app.models.base import metadata

__all__ = ["metadata"]
