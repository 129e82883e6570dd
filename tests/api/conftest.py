from __future__ import annotations

import json

import pytest

from api.services import token_create

from .openapi_check import check_response


class ApiClient:
    """Django's test client speaking JSON with a bearer token; every response it gets is checked
    against the OpenAPI document."""

    def __init__(self, client, secret: str | None) -> None:
        self.client, self.secret = client, secret

    def request(self, method: str, path: str, body: object = None, *, secret: str | None = "",
                raw: str | None = None):
        secret = self.secret if secret == "" else secret
        headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
        if method == "get":
            response = self.client.get(path, **headers)
        else:
            data = raw if raw is not None else ("" if body is None else json.dumps(body))
            response = getattr(self.client, method)(path, data, content_type="application/json",
                                                    **headers)
        check_response(method, path, response)
        return response

    def get(self, path: str, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path: str, body: object = None, **kwargs):
        return self.request("post", path, body, **kwargs)


@pytest.fixture
def secret(owner) -> str:
    return token_create(owner=owner, name="training")[1]


@pytest.fixture
def stranger_secret(stranger) -> str:
    return token_create(owner=stranger, name="other")[1]


@pytest.fixture
def api(client, secret) -> ApiClient:
    return ApiClient(client, secret)


def exports_url(dataset) -> str:
    return f"/api/v1/datasets/{dataset.pk}/exports/"


def job_url(job_id) -> str:
    return f"/api/v1/exports/{job_id}/"
