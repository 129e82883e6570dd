"""A real qcluster process runs exports end to end (slow: starts processes)."""

from __future__ import annotations

import pytest

from annotations.formats.options import ExportOptions
from exports.models import ExportJob
from exports.services import export_job_create, job_file

from ..conftest import read_zip
from ..worker import start_qcluster, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def qcluster(tmp_path):
    process = start_qcluster(tmp_path / "qcluster.log")
    yield process
    stop(process)


def test_a_real_worker_runs_the_export_and_publishes_the_zip(demo, qcluster, tmp_path):
    export_options = ExportOptions(normalized=False, shuffle=True, seed=5, split_ratio=0.25,
                                   include_images=True)
    job, created = export_job_create(owner=demo.owner, dataset=demo, format_id="coco",
                                     options=export_options)
    assert created
    status = wait_for(lambda: ExportJob.objects.get(pk=job.pk).status
                      in ("finished", "errored", "cancelled"), timeout=90)
    assert status
    job.refresh_from_db()
    log = (tmp_path / "qcluster.log").read_text(errors="replace")
    assert job.status == "finished", f"{job.error}\n{log[-3000:]}"
    assert job.attempts == 1 and job.progress_done == job.progress_total > 0
    members = read_zip(str(job_file(job)))
    top = job.file_name[:-4]
    assert f"{top}/train/_annotations.coco.json" in members
    assert f"{top}/test/_annotations.coco.json" in members
    assert job.counts["train"]["images"] + job.counts["test"]["images"] == 12


def test_a_tfrecord_export_runs_in_a_forked_worker_without_hanging(demo, qcluster):
    export_options = ExportOptions(normalized=True, shuffle=False, seed=None, split_ratio=0.0,
                                   include_images=True)
    job, _ = export_job_create(owner=demo.owner, dataset=demo, format_id="tfrecord",
                               options=export_options)
    wait_for(lambda: ExportJob.objects.get(pk=job.pk).status in ("finished", "errored"),
             timeout=120)
    job.refresh_from_db()
    assert job.status == "finished", job.error
    assert any(name.endswith("/train/train.tfrecord") for name in read_zip(str(job_file(job))))
