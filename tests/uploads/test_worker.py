"""A real qcluster analyses and imports uploads end to end (slow: starts processes)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import Annotation, ImportJob

from ..worker import wait_for
from .conftest import make_zip, upload

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def state(job: ImportJob) -> tuple[str, str]:
    return ImportJob.objects.values_list("phase", "status").get(pk=job.pk)


def settled(job: ImportJob) -> bool:
    return state(job) in (("review", "finished"), ("import", "finished")) or \
        state(job)[1] in ("errored", "cancelled")


def test_a_real_worker_analyses_then_imports_a_tfrecord_upload(
        owner_client, dataset, qclusters, upload_dir, settings, tmp_path):
    from tests.formats.canonical import export_canonical, zip_members

    target = tmp_path / "tf.zip"
    export_canonical("tfrecord", str(target), normalized=True)
    qclusters(NEXUS_UPLOAD_DIR=str(upload_dir), NEXUS_WORKERS="1")
    response = upload(owner_client, dataset, {"tf.zip": make_zip(zip_members(str(target)))})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert state(job) == ("analyse", "queued")  # TensorFlow is never loaded in the web process
    wait_for(lambda: settled(job), timeout=120)
    job.refresh_from_db()
    assert state(job) == ("review", "finished"), job.error
    assert job.report["images"]["matched"] == 2
    owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))
    wait_for(lambda: state(job) != ("import", "queued") and settled(job), timeout=120)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("finished", 1), job.error
    assert job.counts["annotations"] == Annotation.objects.count() == 5
    assert not (upload_dir / job.upload_id).exists()
