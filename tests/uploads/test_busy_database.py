"""A large import keeps SQLite's write lock for a moment only, and a request that still meets a
lock answers 503 "busy, try again", never a 500 (issue 18, item 3). Real commits on the test
database file, other writers on their own connections."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from annotations import plans
from annotations.models import Annotation, ImportJob
from datasets.models import Dataset

from .conftest import upload
from .test_import_flow import KEYPOINTS_COCO, confirm_and_run

pytestmark = pytest.mark.django_db(transaction=True)


def other_writer(timeout: float = 0) -> sqlite3.Connection:
    """A connection of its own to the test database, as another process would have."""
    return sqlite3.connect(connection.settings_dict["NAME"], timeout=timeout,
                           isolation_level=None)


@pytest.fixture(autouse=True)
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single writer")


def test_other_writers_go_on_while_an_import_stages_its_rows(owner, owner_client, dataset,
                                                             monkeypatch):
    monkeypatch.setattr(plans, "INSERT_CHUNK", 2)
    monkeypatch.setattr(plans, "STAGE_ROWS", 2)
    upload(owner_client, dataset, {"person_keypoints.json": KEYPOINTS_COCO})
    job = ImportJob.objects.get()
    statuses, stage_rows = [], plans.stage_rows

    def rename_meanwhile(conn, rows, position):
        stage_rows(conn, rows, position)
        db = other_writer()  # no waiting: the import must hold no write lock now
        db.execute("BEGIN IMMEDIATE")
        db.execute("COMMIT")
        db.close()

        def post() -> None:  # a web request on its own thread and connection
            client = Client()
            client.force_login(owner)
            response = client.post(reverse("datasets:rename", args=[dataset.pk]),
                                   {"name": f"Street {len(statuses)}"})
            statuses.append(response.status_code)

        thread = threading.Thread(target=post)
        thread.start()
        thread.join()

    monkeypatch.setattr(plans, "stage_rows", rename_meanwhile)
    job = confirm_and_run(owner_client, job)
    assert statuses == [302, 302, 302, 302]  # 7 rows staged 2 at a time, then the rest
    assert Annotation.objects.count() == 7 and job.counts["annotations"] == 7
    assert Dataset.objects.get(pk=dataset.pk).name == "Street 3"


def test_a_request_that_meets_a_lock_answers_503(owner_client, dataset):
    owner_client.get(reverse("datasets:detail", args=[dataset.pk]))  # session written first
    options = connection.settings_dict["OPTIONS"]
    timeout = options.get("timeout")
    holder = other_writer()
    connection.close()
    options["timeout"] = 0.2
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = owner_client.post(reverse("datasets:rename", args=[dataset.pk]),
                                     {"name": "Renamed"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        connection.close()
        options["timeout"] = timeout
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "busy" in response.content.decode() and "Traceback" not in response.content.decode()
    assert Dataset.objects.get(pk=dataset.pk).name == "Street"
