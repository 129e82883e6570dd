"""PostgreSQL + Redis broker + S3 object storage + several qcluster processes.

Run by `bin/test` against services it starts itself (bin/services); selected with
`-m integration` and the environment bin/services prints.
"""

from __future__ import annotations

import hashlib
import os
import signal
import urllib.request
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from annotations.formats.options import ExportOptions
from exports import reaper, services, storage, tasks
from exports.models import ExportJob

from ..conftest import read_zip
from ..factories import dataset_with_boxes
from ..worker import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_staleness")]
def test_the_configuration_really_is_postgresql_redis_and_s3():
    assert connection.vendor == "postgresql"
    assert "redis" in settings.Q_CLUSTER and "orm" not in settings.Q_CLUSTER
    assert not storage.is_local()


def export(dataset, seed: int, include_images: bool = True) -> ExportJob:
    export_options = ExportOptions(normalized=False, shuffle=True, seed=seed, split_ratio=0.25,
                                   include_images=include_images)
    job, _ = services.export_job_create(owner=dataset.owner, dataset=dataset, format_id="coco",
                                        options=export_options)
    return job


def finished(job, timeout: float = 120) -> ExportJob:
    def done():
        reaper.jobs_reap()
        return ExportJob.objects.get(pk=job.pk).status in ("finished", "errored", "cancelled")
    wait_for(done, timeout=timeout, interval=0.5)
    return ExportJob.objects.get(pk=job.pk)


def test_two_qcluster_processes_export_at_once_and_downloads_use_presigned_urls(
        demo, clusters, owner_client):
    clusters()
    clusters()
    jobs = [export(demo, seed) for seed in range(4)]
    results = [finished(job) for job in jobs]
    assert [j.status for j in results] == ["finished"] * 4, [j.error for j in results]
    assert len({j.worker.split(":")[-1] for j in results}) >= 1
    for job in results:
        assert storage.exists(job.file_path)
        response = owner_client.get(reverse("exports:download", args=[job.pk]))
        assert response.status_code == 302
        url = response["Location"]
        assert "X-Amz-Expires=" in url and "X-Amz-Signature=" in url
        data = urllib.request.urlopen(url, timeout=30).read()
        assert hashlib.sha256(data).hexdigest() == job.sha256
        assert any(name.endswith("/train/_annotations.coco.json") for name in read_zip(data))


def test_a_worker_killed_mid_export_is_recovered_although_redis_lost_its_task(owner, clusters):
    dataset = dataset_with_boxes(owner, 30000)
    clusters()
    job = export(dataset, 1, include_images=False)

    def running():
        fresh = ExportJob.objects.get(pk=job.pk)
        return fresh if fresh.status == "running" and fresh.progress_done > 50 else None
    victim = wait_for(running, timeout=60, interval=0.05)
    os.kill(int(victim.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    # Redis handed the message out and forgot it: only the reaper can bring the job back.
    assert f"export-{job.pk}" not in reaper.pending_task_names()
    done = finished(job)
    assert (done.status, done.attempts) == ("finished", 2), done.error
    assert storage.exists(done.file_path)


def test_expiry_deletes_the_objects_and_downloads_answer_410(demo, owner_client):
    job = export(demo, 3)
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    assert storage.exists(job.file_path)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.delete_expired_exports() == 1
    assert not storage.exists(job.file_path)
    assert owner_client.get(reverse("exports:download", args=[job.pk])).status_code == 410


def test_images_live_in_object_storage_too(demo):
    image = demo.images.first()
    from django.core.files.storage import storages
    assert type(storages["default"]).__name__ == "S3Storage"
    assert storages["default"].exists(image.file.name)
