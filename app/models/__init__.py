"""SQLModel tables and API schemas, one module per domain; importing this registers every table."""

from app.models import api_keys, audit, controllers, customers, marketing, orders, requests, webhooks  # noqa: F401
from app.models.base import metadata

__all__ = ["metadata"]
