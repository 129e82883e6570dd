"""Personal API tokens: the account page, hashing, bearer authentication and revocation."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.services import token_create, token_revoke

from .conftest import ApiClient

ACCOUNT = "/api/v1/account/"


def create_on_page(client, name: str = "training cluster"):
    return client.post(ACCOUNT, {"name": name})


def test_the_account_page_is_linked_from_the_header(owner_client):
    page = owner_client.get(reverse("datasets:list")).content.decode()
    assert f'href="{ACCOUNT}"' in page and "API tokens" in page


def test_the_account_page_needs_a_login(client):
    response = client.get(ACCOUNT)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(owner_client, owner):
    response = create_on_page(owner_client)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    secret = re.search(r'id="token-secret" value="(nxs_[A-Za-z0-9_-]{43})"', html).group(1)
    assert "it is shown only once" in html
    token = ApiToken.objects.get()
    assert (token.owner, token.name, token.prefix) == (owner, "training cluster", secret[:10])
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values_list().get()]
    assert not any(secret in value for value in stored)
    again = owner_client.get(ACCOUNT).content.decode()
    assert secret not in again
    assert "training cluster" in again and f"{secret[:10]}…" in again and "never used" in again


def test_each_token_is_different(owner):
    secrets = {token_create(owner=owner, name="x")[1] for _ in range(5)}
    assert len(secrets) == 5 and all(s.startswith("nxs_") for s in secrets)


@pytest.mark.parametrize("name,message", [
    ("", "This field is required."),
    ("x" * 101, "Ensure this value has at most 100 characters (it has 101)."),
])
def test_a_token_needs_a_short_name(owner_client, name, message):
    response = create_on_page(owner_client, name)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_list_shows_when_a_token_was_last_used(owner_client, client, secret):
    token = ApiToken.objects.get()
    assert token.last_used is None
    api = ApiClient(Client(), secret)
    assert api.get("/api/v1/datasets/").status_code == 200
    token.refresh_from_db()
    assert token.last_used is not None
    assert "last used" in owner_client.get(ACCOUNT).content.decode()


def test_last_used_is_written_at_most_once_a_minute(secret):
    api = ApiClient(Client(), secret)
    api.get("/api/v1/formats/")
    first = ApiToken.objects.get().last_used
    api.get("/api/v1/formats/")
    assert ApiToken.objects.get().last_used == first
    ApiToken.objects.update(last_used=timezone.now() - timedelta(minutes=2))
    api.get("/api/v1/formats/")
    assert ApiToken.objects.get().last_used > first - timedelta(seconds=1)


def test_a_revoked_token_stops_working_at_once(owner_client, api):
    assert api.get("/api/v1/datasets/").status_code == 200
    token = ApiToken.objects.get()
    response = owner_client.post(reverse("api:token_revoke", args=[token.pk]))
    assert response.status_code == 302 and response["Location"] == ACCOUNT
    refused = api.get("/api/v1/datasets/")
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"
    assert refused["WWW-Authenticate"] == 'Bearer realm="nexus", error="invalid_token"'
    token.refresh_from_db()
    assert token.revoked is not None
    page = owner_client.get(ACCOUNT).content.decode()
    assert "Revoked" in page and reverse("api:token_revoke", args=[token.pk]) not in page


def test_revoking_twice_changes_nothing(owner):
    token, _ = token_create(owner=owner, name="x")
    assert token_revoke(token=token) is True
    when = ApiToken.objects.get().revoked
    assert token_revoke(token=token) is False
    assert ApiToken.objects.get().revoked == when


def test_other_tokens_keep_working_after_a_revoke(owner, api):
    other, other_secret = token_create(owner=owner, name="second")
    token_revoke(token=other)
    assert api.get("/api/v1/datasets/").status_code == 200
    assert api.get("/api/v1/datasets/", secret=other_secret).status_code == 401


def test_nobody_revokes_someone_elses_token(stranger_client, secret):
    token = ApiToken.objects.get()
    assert stranger_client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 404
    assert ApiToken.objects.get().revoked is None


def test_the_token_page_forms_need_the_csrf_token(owner, secret):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    token = ApiToken.objects.get()
    assert browser.post(ACCOUNT, {"name": "x"}).status_code == 403
    assert browser.post(reverse("api:token_revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().revoked is None


def test_api_calls_need_no_csrf_token_but_a_bearer_token(owner, demo, secret):
    browser = Client(enforce_csrf_checks=True)
    api = ApiClient(browser, secret)
    assert api.post(f"/api/v1/datasets/{demo.pk}/exports/", {"format": "coco"}).status_code == 202


def test_a_browser_session_does_not_authenticate_the_api(owner_client):
    """The API is csrf_exempt, so it must never act on a session cookie alone."""
    response = ApiClient(owner_client, None).get("/api/v1/datasets/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_required"
    assert response["WWW-Authenticate"] == 'Bearer realm="nexus"'


@pytest.mark.parametrize("header,code", [
    ("Basic b3duZXI6cHc=", "authentication_required"),
    ("Bearer", "authentication_required"),
    ("Bearer nxs_not-a-real-token", "invalid_token"),
    ("Token nxs_x", "authentication_required"),
])
def test_malformed_or_unknown_credentials_are_refused(db, client, header, code):
    response = client.get("/api/v1/datasets/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == code


def test_a_deactivated_users_token_stops_working(owner, api):
    owner.is_active = False
    owner.save()
    assert api.get("/api/v1/datasets/").json()["code"] == "invalid_token"


def test_the_bearer_scheme_is_case_insensitive(client, secret):
    response = client.get("/api/v1/formats/", HTTP_AUTHORIZATION=f"bearer {secret}")
    assert response.status_code == 200


def test_active_tokens_are_listed_before_revoked_ones(owner):
    from api.selectors import tokens_for

    first, _ = token_create(owner=owner, name="first")
    token_create(owner=owner, name="second")
    token_revoke(token=first)
    token_create(owner=owner, name="third")
    assert [t.name for t in tokens_for(owner)] == ["third", "second", "first"]
