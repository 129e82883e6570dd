"""Real qcluster processes killed mid-export, timing out, handed one task twice, and soaked.

Slow: each test starts worker processes. The figures of the soak are written to
test-output/soak.json for the record.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from django.test import Client
from django.urls import reverse

from annotations.formats.options import ExportOptions
from exports import reaper, services
from exports.models import ExportJob

from ..factories import dataset_with_boxes, stored_sample_image
from ..worker import ROOT, STALE, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("quick_staleness")]
def start_export(dataset, seed: int = 1) -> ExportJob:
    export_options = ExportOptions(normalized=False, shuffle=True, seed=seed, split_ratio=0.2,
                                   include_images=True)
    job, _ = services.export_job_create(owner=dataset.owner, dataset=dataset, format_id="coco",
                                        options=export_options)
    return job


def status(job) -> str:
    return ExportJob.objects.values_list("status", flat=True).get(pk=job.pk)


def running_with_progress(job) -> ExportJob | None:
    fresh = ExportJob.objects.get(pk=job.pk)
    return fresh if fresh.status == "running" and fresh.progress_done > 50 else None


def reap_until_done(job, timeout: float = 120) -> ExportJob:
    def done():
        reaper.jobs_reap()
        return status(job) in ("finished", "errored", "cancelled")
    wait_for(done, timeout=timeout, interval=0.5)
    return ExportJob.objects.get(pk=job.pk)


def assert_one_zip_and_no_temporary_files(job: ExportJob) -> None:
    assert len(list((services.export_dir() / str(job.pk)).rglob("*.zip"))) == 1
    time.sleep(STALE + 0.5)
    reaper.sweep_temporary_files()
    assert list((services.export_dir() / "tmp").iterdir()) == []


def test_sigkill_of_the_worker_mid_export_still_finishes_on_attempt_two(owner, clusters):
    dataset = dataset_with_boxes(owner, 20000, file=stored_sample_image())
    clusters()
    job = start_export(dataset)
    running = wait_for(lambda: running_with_progress(job), timeout=60, interval=0.05)
    os.kill(int(running.worker.rsplit(":", 1)[1]), signal.SIGKILL)
    final = reap_until_done(job)
    assert (final.status, final.attempts) == ("finished", 2), final.error
    assert_one_zip_and_no_temporary_files(final)


def test_sigkill_of_the_whole_cluster_then_a_restart_finishes_the_job(owner, clusters):
    dataset = dataset_with_boxes(owner, 20000, file=stored_sample_image())
    first = clusters()
    job = start_export(dataset)
    wait_for(lambda: running_with_progress(job), timeout=60, interval=0.05)
    stop(first, signal.SIGKILL)
    clusters()
    final = reap_until_done(job)
    assert (final.status, final.attempts) == ("finished", 2), final.error
    assert_one_zip_and_no_temporary_files(final)


def test_an_export_that_kills_its_worker_every_time_errors_after_the_maximum(demo, clusters):
    # django-q2 kills any task running longer than its timeout; loading TensorFlow alone takes
    # longer than one second, so every attempt of a TFRecord export dies the same way.
    clusters(NEXUS_JOB_TIMEOUT="1")
    export_options = ExportOptions(normalized=True, shuffle=False, seed=None, split_ratio=0.0,
                                   include_images=True)
    job, _ = services.export_job_create(owner=demo.owner, dataset=demo, format_id="tfrecord",
                                        options=export_options)
    final = reap_until_done(job)
    assert final.status == "errored"
    assert final.error == "the worker stopped 3 times while exporting"
    assert final.attempts == 3
    assert not list((services.export_dir() / str(job.pk)).rglob("*.zip"))


def test_one_task_delivered_twice_to_two_workers_finishes_once(owner, clusters):
    dataset = dataset_with_boxes(owner, 2000, file=stored_sample_image())
    clusters(NEXUS_WORKERS="2")
    job = start_export(dataset)
    services.enqueue_export(job.pk)  # a duplicate message, as a broker may deliver
    final = reap_until_done(job)
    assert (final.status, final.attempts) == ("finished", 1)
    assert len(list((services.export_dir() / str(job.pk)).rglob("*.zip"))) == 1


def test_soak_two_workers_three_exports_and_a_polling_browser_on_sqlite(owner, clusters,
                                                                      tmp_path):
    seconds = float(os.environ.get("NEXUS_SOAK_SECONDS", "60"))
    dataset = dataset_with_boxes(owner, 1500, file=stored_sample_image())
    clusters()
    clusters()
    client = Client()
    client.force_login(owner)
    seed = iter(range(10_000))
    active = [start_export(dataset, next(seed)) for _ in range(3)]
    started, polls, errors = 3, 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get(reverse("exports:jobs", args=[dataset.pk]))
        polls += 1
        if response.status_code != 200:
            errors.append(response.status_code)
        for job in list(active):
            if status(job) in ("finished", "errored", "cancelled"):
                active.remove(job)
                active.append(start_export(dataset, next(seed)))
                started += 1
        time.sleep(1)
    final = [reap_until_done(job) for job in active]
    jobs = ExportJob.objects.filter(dataset=dataset)
    figures = {
        "seconds": seconds, "polls": polls, "poll_errors": len(errors), "jobs_started": started,
        "finished": jobs.filter(status="finished").count(),
        "errored": jobs.filter(status="errored").count(),
        "lost": jobs.exclude(status__in=["finished", "errored", "cancelled"]).count(),
        "max_attempts": max(j.attempts for j in jobs),
    }
    log_text = "".join(path.read_text(errors="replace") for path in tmp_path.glob("*.log"))
    figures["database_is_locked"] = log_text.count("database is locked")
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(figures, indent=2))
    assert final and errors == [] and figures["database_is_locked"] == 0, figures
    assert figures["finished"] == started and figures["lost"] == 0, figures
