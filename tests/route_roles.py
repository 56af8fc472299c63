"""Who may call what: the roles each route admits, written out as data (the source of truth for tests/test_roles.py).

A route that is not here fails the tests, and so does an entry with no route; the running app must refuse every
role outside an entry's set with 403 and let every role inside it through. Changing who may call a route is a
change to this table, reviewed as such: the tests never take the roles from the code they check. The table is
docs/roles.md's, with the reasons there (least privilege); a test checks that the two say the same.
"""

from __future__ import annotations

from typing import Final, Literal

from app.models.api_keys import Role

PUBLIC: Final = "public"  # no key needed: anyone may call it
Access = frozenset[Role] | Literal["public"]

admin, agent, integration, auditor = Role.admin, Role.agent, Role.integration, Role.auditor

ROUTE_ROLES: Final[dict[str, Access]] = {
    # The service itself and its manual.
    "GET /health/live": PUBLIC,
    "GET /health/ready": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "HEAD /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "HEAD /docs": PUBLIC,
    "GET /docs/assets/{name}": PUBLIC,
    "HEAD /docs/assets/{name}": PUBLIC,
    "GET /redoc": PUBLIC,
    "HEAD /redoc": PUBLIC,
    # What anyone may read: the notice a web shop links to, and where to complain (GDPR Art. 13, 77).
    "GET /public/{controller}/privacy-notice": PUBLIC,
    "GET /v1/complaint-authorities": PUBLIC,
    "GET /v1/complaint-authorities/{country}": PUBLIC,
    # Administration: keys and webhooks (who may do what, and which recipients receive data).
    "GET /v1/api-keys": frozenset({admin}),
    "POST /v1/api-keys": frozenset({admin}),
    "DELETE /v1/api-keys/{key_id}": frozenset({admin}),
    "GET /v1/webhooks": frozenset({admin}),
    "POST /v1/webhooks": frozenset({admin}),
    "DELETE /v1/webhooks/{webhook_id}": frozenset({admin}),
    "GET /v1/webhooks/{webhook_id}/deliveries": frozenset({admin}),
    # The controller's profile: admins keep it, auditors check it; everyone reads the notice it renders.
    "PUT /v1/controller": frozenset({admin}),
    "PUT /v1/controller/draft": frozenset({admin}),
    "GET /v1/controller": frozenset({admin, auditor}),
    "GET /v1/controller/draft": frozenset({admin, auditor}),
    "GET /v1/privacy-notice": frozenset({admin, agent, integration, auditor}),
    # Oversight: the record of processing activities (Art. 30) and the audit log.
    "GET /v1/records-of-processing": frozenset({admin, auditor}),
    "GET /v1/audit": frozenset({admin, auditor}),
    "GET /v1/audit/verify": frozenset({admin, auditor}),
    # Who received a person's data (GDPR Art. 15(1)(c), 30(1)(d)): staff answer people, auditors check it.
    "GET /v1/customers/{customer_id:uuid}/disclosures": frozenset({admin, agent, auditor}),
    # What the shops push: customers and orders; a customer read back by id for its version, never a list.
    "POST /v1/customers": frozenset({admin, agent, integration}),
    "PUT /v1/customers/by-external-id/{external_id}": frozenset({admin, agent, integration}),
    "POST /v1/customers/import": frozenset({admin, agent, integration}),
    "GET /v1/customers/{customer_id:uuid}": frozenset({admin, agent, integration}),
    "POST /v1/customers/{customer_id}/orders": frozenset({admin, agent, integration}),
    "PATCH /v1/orders/{order_id}": frozenset({admin, agent, integration}),
    # Marketing: what the person said, and may we?
    "GET /v1/customers/{customer_id}/marketing": frozenset({admin, agent, integration}),
    "PUT /v1/customers/{customer_id}/marketing": frozenset({admin, agent, integration}),
    "GET /v1/customers/{customer_id}/marketing/{channel}": frozenset({admin, agent, integration}),
    "POST /v1/marketing/check": frozenset({admin, agent, integration}),
    # Customer service: finding people, correcting and deleting, their orders, exports and restrictions.
    "GET /v1/customers": frozenset({admin, agent}),
    "PATCH /v1/customers/{customer_id:uuid}": frozenset({admin, agent}),
    "DELETE /v1/customers/{customer_id:uuid}": frozenset({admin, agent}),
    "GET /v1/customers/{customer_id}/orders": frozenset({admin, agent}),
    "GET /v1/customers/{customer_id}/export": frozenset({admin, agent}),
    "POST /v1/customers/{customer_id}/restriction/notice": frozenset({admin, agent}),
    "DELETE /v1/customers/{customer_id}/restriction": frozenset({admin, agent}),
    # Requests of the people in the register: customer service registers, handles and answers them.
    "POST /v1/requests": frozenset({admin, agent}),
    "GET /v1/requests": frozenset({admin, agent}),
    "GET /v1/requests/{request_id}": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/verify": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/request-identity": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/extend": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/complete": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/refuse": frozenset({admin, agent}),
    "POST /v1/requests/{request_id}/withdraw": frozenset({admin, agent}),
    "GET /v1/requests/{request_id}/export": frozenset({admin, agent}),
    "GET /v1/requests/{request_id}/letter": frozenset({admin, agent}),
    # Do-not-contact lists (Art. 21, ASML Kielto): admins keep them, customer service reads them.
    "POST /v1/suppression-lists": frozenset({admin}),
    "PATCH /v1/suppression-lists/{list_id}": frozenset({admin}),
    "DELETE /v1/suppression-lists/{list_id}": frozenset({admin}),
    "POST /v1/suppression-lists/{list_id}/entries": frozenset({admin}),
    "PUT /v1/suppression-lists/{list_id}/entries": frozenset({admin}),
    "GET /v1/suppression-lists": frozenset({admin, agent}),
    "GET /v1/suppression-lists/{list_id}": frozenset({admin, agent}),
}
