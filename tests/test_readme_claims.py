"""What the README shows is what the service says: its messages, its command's output, its public addresses."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.models.marketing import Channel
from tests.conftest import Tenant, new_customer
from tests.test_cli import rekisteri

ROOT = Path(__file__).resolve().parent.parent
NDJSON = {"Content-Type": "application/x-ndjson"}


# --- a refusal in the service's own words ---------------------------------------------------------------------


def import_errors(client: TestClient, tenant: Tenant, line: str) -> list[dict[str, object]]:
    response = client.post("/v1/customers/import", content=line.encode() + b"\n", headers=tenant.headers(**NDJSON))
    assert response.status_code == 200, response.text
    (failed,) = response.json()["errors"]
    return failed["errors"]  # type: ignore[no-any-return]


def test_the_readmes_bad_email_is_refused_in_words_that_keep_their_meaning(client: TestClient, tenant: Tenant) -> None:
    """README: `"email": "not an address"` in an import. The words of the value are also words of the message
    ("not", "address"): the message keeps them, since it quotes nothing of the value."""
    line = '{"external_id": "shop-2", "last_name": "Laine", "email": "not an address"}'
    (error,) = import_errors(client, tenant, line)
    assert error == {
        "loc": ["email"],
        "msg": "Value error, not a valid e-mail address: An email address must have an @-sign.",
        "type": "value_error",
    }
    direct = client.post(
        "/v1/customers", json={"last_name": "Laine", "email": "not an address"}, headers=tenant.headers()
    )
    assert direct.status_code == 422
    assert [e["msg"] for e in direct.json()["errors"]] == [error["msg"]]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "not a phone", "Value error, not a phone number"),
        ("newsletter", "true", "Value error, give true or false"),
        (
            # The schema's pattern refuses other forms first; a wrong check digit is the service's own words.
            "business_id",
            "2477816-8",
            "Value error, not a valid Finnish business ID (Y-tunnus): wrong form or check digit",
        ),
        ("ip_address", "not an IPv4", "Value error, not an IPv4 or IPv6 address"),
    ],
)
def test_the_services_own_messages_are_never_cut(
    client: TestClient, tenant: Tenant, field: str, value: str, message: str
) -> None:
    """Every refusal the service words itself quotes nothing of the value, so nothing is taken out of it."""
    response = client.post("/v1/customers", json={"last_name": "Laine", field: value}, headers=tenant.headers())
    assert response.status_code == 422
    assert [e["msg"] for e in response.json()["errors"]] == [message]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("maija@@virtanen.fi", "The part after the @-sign contains invalid characters."),
        ("maija virtanen@example.fi", "The email address contains invalid characters before the @-sign."),
        ("maija@virtanen", "The part after the @-sign is not valid. It should have a period."),
        ("maija.@virtanen.fi", "An email address cannot have a period immediately before the @-sign."),
    ],
)
def test_an_email_refusal_never_quotes_the_address(client: TestClient, tenant: Tenant, value: str, reason: str) -> None:
    """email-validator names the characters or counts it found; the service says what is wrong without them."""
    (error,) = import_errors(client, tenant, f'{{"external_id": "x", "last_name": "A", "email": "{value}"}}')
    assert error["msg"] == f"Value error, not a valid e-mail address: {reason}"
    assert "virtanen" not in str(error["msg"]).lower()


# --- the retention sweep on the default profile ---------------------------------------------------------------


@pytest.mark.slow
def test_the_dry_run_says_which_rule_the_default_profile_enforces(tenant: Tenant, database_url: str) -> None:
    """README: `rekisteri retention sweep --dry-run` on the default profile (examples/sonmark.toml, the seeds'
    10 years from the end of the customer relationship)."""
    env = {**os.environ, "REKISTERI_DATABASE_URL": database_url}
    result = rekisteri("retention", "sweep", "--dry-run", "--controller", tenant.slug, env=env)
    assert result.stdout.splitlines() == [
        f"{tenant.slug}: customer data is kept 10 years from the end of the customer relationship",
        f"{tenant.slug}: 0 would be anonymised; left as they are: none",
    ]
    assert "no retention period" not in result.stderr


# --- where to complain ----------------------------------------------------------------------------------------


def test_the_authorities_cite_only_what_the_repository_has(client: TestClient) -> None:
    """README: `curl /v1/complaint-authorities/fi`. A note may name a document; the document must be here."""
    finland = client.get("/v1/complaint-authorities/fi").json()
    assert "Lintulahdenkuja 4" in finland["street_address"]
    everyone = client.get("/v1/complaint-authorities").json()
    items = everyone["items"] if isinstance(everyone, dict) else everyone
    notes = [str(a.get(key) or "") for a in [finland, *items] for key in ("note", "regional_note")]
    cited = {name for note in notes for name in re.findall(r"[\w./-]+\.md\b", note)}
    assert [name for name in cited if not (ROOT / name).exists()] == []
    assert "DESIGN.md" not in finland["note"]


# --- a decision's words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", list(Channel))
def test_a_prohibition_reads_as_a_sentence(client: TestClient, tenant: Tenant, channel: Channel) -> None:
    """README's table: `prohibited`, the person forbade this channel. The detail names the channel in words."""
    person = new_customer(client, tenant)
    body = {"channels": {channel.value: {"prohibited": True}}, "received_via": "phone"}
    assert client.put(f"/v1/customers/{person['id']}/marketing", json=body, headers=tenant.headers()).status_code == 200
    decision = client.get(f"/v1/customers/{person['id']}/marketing/{channel.value}", headers=tenant.headers()).json()
    assert decision["reason"] == "prohibited"
    detail = decision["detail"]
    assert detail.startswith("The person forbade ")
    assert "_" not in detail
    assert "marketing marketing" not in detail
    assert detail.endswith(").")  # and says on what ground: the right to object (kielto-oikeus)


def test_a_prohibition_of_telemarketing(client: TestClient, tenant: Tenant) -> None:
    person = new_customer(client, tenant)
    body = {"channels": {"telemarketing": {"prohibited": True}}, "received_via": "phone"}
    client.put(f"/v1/customers/{person['id']}/marketing", json=body, headers=tenant.headers())
    decision = client.get(f"/v1/customers/{person['id']}/marketing/telemarketing", headers=tenant.headers()).json()
    assert decision["detail"] == "The person forbade telemarketing (GDPR Art. 21(2))."


# --- the public notice, by slug or by id ----------------------------------------------------------------------


def test_the_public_notice_answers_by_the_controllers_id_as_by_its_slug(client: TestClient, tenant: Tenant) -> None:
    """README: `/public/sonmark/privacy-notice`. `controllers create` prints the id, so the id works too."""
    by_slug = client.get(f"/public/{tenant.slug}/privacy-notice", params={"lang": "en"})
    by_id = client.get(f"/public/{tenant.id}/privacy-notice", params={"lang": "en"})
    assert by_slug.status_code == 200
    assert by_id.status_code == 200, by_id.text
    assert by_id.json() == by_slug.json()
    upper = client.get(f"/public/{str(tenant.id).upper()}/privacy-notice", params={"lang": "en"})
    assert upper.status_code == 200


def test_an_unknown_id_is_404(client: TestClient, tenant: Tenant) -> None:
    for controller in (uuid.uuid4(), "no-such-controller"):
        response = client.get(f"/public/{controller}/privacy-notice")
        assert response.status_code == 404
        assert response.json()["detail"] == "No such controller."
