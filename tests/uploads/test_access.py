"""Every new endpoint x every kind of user: only the owner gets in; nothing changes otherwise."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from annotations.models import ImportJob
from datasets.models import Dataset

from .conftest import upload


@pytest.fixture
def job(owner_client, dataset):
    upload(owner_client, dataset, {"a.csv": "filename,label\nstreet.jpg,x\n"})
    return ImportJob.objects.get()


def endpoints(dataset, job) -> list[tuple[str, str]]:
    return [
        ("get", reverse("datasets:rename", args=[dataset.pk])),
        ("post", reverse("datasets:rename", args=[dataset.pk])),
        ("get", reverse("datasets:delete", args=[dataset.pk])),
        ("post", reverse("datasets:delete", args=[dataset.pk])),
        ("get", reverse("datasets:images_upload", args=[dataset.pk])),
        ("post", reverse("datasets:images_upload", args=[dataset.pk])),
        ("get", reverse("annotations:upload", args=[dataset.pk])),
        ("post", reverse("annotations:upload", args=[dataset.pk])),
        ("get", reverse("annotations:import_review", args=[job.pk])),
        ("post", reverse("annotations:import_confirm", args=[job.pk])),
        ("post", reverse("annotations:import_discard", args=[job.pk])),
    ]


@pytest.mark.parametrize("who", ["stranger", "staff", "anonymous"])
def test_only_the_owner_reaches_uploads_and_dataset_management(dataset, job, who):
    client = Client()
    if who != "anonymous":
        client.force_login(get_user_model().objects.create_user(
            who, password="x" * 12, is_staff=who == "staff"))
    for method, url in endpoints(dataset, job):
        response = getattr(client, method)(url, {"name": "mine"} if method == "post" else None)
        if who == "anonymous":
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url
        else:
            assert response.status_code == 404, (who, url, response.status_code)
    dataset.refresh_from_db()
    job.refresh_from_db()
    assert dataset.name == "Street" and Dataset.objects.count() == 1
    assert (job.phase, job.status) == ("review", "finished")


def test_creating_a_dataset_needs_a_login_and_the_csrf_token(db, owner):
    assert Client().post(reverse("datasets:create"), {"name": "x"}).status_code == 302
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(reverse("datasets:create"), {"name": "x"}).status_code == 403
    assert not Dataset.objects.exists()
