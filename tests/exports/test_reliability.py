"""Claim, heartbeat, attempts, publish-once, cancel, reaper, fairness and storage errors."""

from __future__ import annotations

import errno
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotations.formats.io.zipout import ZipOut
from annotations.formats.options import ExportOptions
from exports import reaper, services, tasks
from exports.models import ExportJob
from jobs import claiming

from ..conftest import read_zip
from ..factories import dataset_with_boxes


def new_job(dataset, fmt="coco", **options) -> ExportJob:
    export_options = ExportOptions(normalized=False, shuffle=options.get("shuffle", False),
                                   seed=options.get("seed"),
                                   split_ratio=options.get("split", 0.0),
                                   include_images=options.get("include_images", False))
    job, _ = services.export_job_create(owner=dataset.owner, dataset=dataset, format_id=fmt,
                                        options=export_options,
                                        enqueue=False, reuse_active=False)
    return job


def tmp_entries() -> list[Path]:
    tmp = services.export_dir() / "tmp"
    return sorted(tmp.iterdir()) if tmp.is_dir() else []


def test_a_task_that_cannot_claim_does_nothing(demo):
    job = new_job(demo)
    ExportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now(),
                                               worker_token="someone-else")
    assert tasks.run_export(str(job.pk)) == "not claimed"
    job.refresh_from_db()
    assert (job.status, job.worker_token, job.attempts) == ("running", "someone-else", 0)


def test_the_same_task_delivered_twice_finishes_once_with_one_file(demo):
    job = new_job(demo)
    assert tasks.run_export(str(job.pk)) == "finished"
    assert tasks.run_export(str(job.pk)) == "not claimed"
    job.refresh_from_db()
    assert job.attempts == 1
    assert len(list((services.export_dir() / str(job.pk)).rglob("*.zip"))) == 1


def test_a_stale_running_job_is_taken_over_and_the_loser_deletes_its_own_file(demo, settings):
    job = new_job(demo)
    loser_token = "loser"
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", worker_token=loser_token, attempts=1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS + 5))
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    assert job.attempts == 2
    winner = services.job_file(job)
    # The first attempt comes back to life and tries to publish: it must lose, and clean up.
    late = services.export_dir() / "tmp" / "late.zip.part"
    late.parent.mkdir(parents=True, exist_ok=True)
    late.write_bytes(b"PK late attempt")
    summary = type("S", (), {"top_folder": "late", "sets": {}})()
    assert services._publish(job, loser_token, late, summary) == "lost the race"
    assert not (services.export_dir() / str(job.pk) / loser_token).exists()
    assert winner.is_file() and read_zip(str(winner))


def test_past_the_maximum_attempts_the_job_errors_with_the_reason(demo, settings):
    job = new_job(demo)
    ExportJob.objects.filter(pk=job.pk).update(attempts=settings.NEXUS_MAX_ATTEMPTS)
    assert tasks.run_export(str(job.pk)) == "errored: too many attempts"
    job.refresh_from_db()
    assert job.status == "errored"
    assert job.error == "the worker stopped 3 times while exporting"


def test_cancel_stops_a_running_export_and_removes_its_temporary_files(owner, monkeypatch):
    dataset = dataset_with_boxes(owner, 200)
    job = new_job(dataset)
    original = claiming.ProgressWriter.__call__

    def cancel_midway(self, done, total):
        if done == 50:
            services.export_job_cancel(job=job)
        return original(self, done, total)

    monkeypatch.setattr(claiming.ProgressWriter, "__call__", cancel_midway)
    assert tasks.run_export(str(job.pk)) == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.file_path
    assert tmp_entries() == []


def test_a_full_disk_errors_the_job_with_a_readable_reason_and_leaves_nothing(demo, monkeypatch):
    job = new_job(demo)

    def disk_full(self, on_member=None):
        self.discard()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(ZipOut, "close", disk_full)
        assert tasks.run_export(str(job.pk)) == "errored"
    job.refresh_from_db()
    assert job.status == "errored"
    assert job.error == ("The server ran out of disk space while writing the export. Free some "
                         "space and export again.")
    assert tmp_entries() == [] and not job.file_path
    again = new_job(demo)
    assert tasks.run_export(str(again.pk)) == "finished"  # space is back


def test_an_owner_at_the_running_limit_waits_while_other_users_run(demo, stranger, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    busy = new_job(demo)
    ExportJob.objects.filter(pk=busy.pk).update(status="running", heartbeat_at=timezone.now(),
                                                worker_token="busy")
    waiting = new_job(demo, seed=1, shuffle=True)
    assert tasks.run_export(str(waiting.pk)) == "deferred"
    waiting.refresh_from_db()
    assert waiting.status == "queued" and waiting.enqueued_at is None
    other = dataset_with_boxes(stranger, 3)
    assert tasks.run_export(str(new_job(other).pk)) == "finished"  # not starved
    # When the busy export ends, the owner's waiting export is enqueued again.
    ExportJob.objects.filter(pk=busy.pk).update(status="finished")
    services.release_deferred(demo.owner_id)
    waiting.refresh_from_db()
    assert waiting.enqueued_at is not None
    assert f"export-{waiting.pk}" in reaper.pending_task_names()


def test_the_reaper_requeues_stale_jobs_and_errors_them_past_the_maximum(demo, settings):
    stale = timezone.now() - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS + 1)
    again = new_job(demo)
    done_for = new_job(demo, split=0.5)
    ExportJob.objects.filter(pk=again.pk).update(status="running", attempts=1, heartbeat_at=stale)
    ExportJob.objects.filter(pk=done_for.pk).update(status="running", attempts=3,
                                                    heartbeat_at=stale)
    report = reaper.jobs_reap()
    assert (report["requeued"], report["errored"]) == (1, 1)
    again.refresh_from_db()
    done_for.refresh_from_db()
    assert again.status == "queued" and f"export-{again.pk}" in reaper.pending_task_names()
    assert done_for.status == "errored"
    assert done_for.error == "the worker stopped 3 times while exporting"
    assert tasks.run_export(str(again.pk)) == "finished"


def test_the_reaper_reenqueues_queued_jobs_whose_message_was_lost(demo):
    job = new_job(demo)  # created without a broker message, like an enqueue that never ran
    old = timezone.now() - timedelta(minutes=5)
    ExportJob.objects.filter(pk=job.pk).update(created_at=old)
    assert f"export-{job.pk}" not in reaper.pending_task_names()
    assert reaper.jobs_reap()["reenqueued"] == 1
    assert f"export-{job.pk}" in reaper.pending_task_names()
    assert reaper.jobs_reap()["reenqueued"] == 0  # its message is there now


def test_the_reaper_sweeps_temporary_files_of_dead_attempts_only(demo, settings):
    tmp = services.export_dir() / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    live = new_job(demo)
    ExportJob.objects.filter(pk=live.pk).update(status="running", worker_token="alive",
                                                heartbeat_at=timezone.now())
    dead = tmp / "0000-dead.zip.part"
    alive = tmp / f"{live.pk}-alive.zip.part"
    for path in (dead, alive):
        path.write_bytes(b"partial")
        past = timezone.now().timestamp() - settings.NEXUS_HEARTBEAT_STALE_SECONDS - 10
        os.utime(path, (past, past))
    assert reaper.sweep_temporary_files() == 1
    assert not dead.exists() and alive.exists()


def test_schedules_are_created_once(db):
    from django_q.models import Schedule

    from exports.schedules import ensure_schedules
    ensure_schedules()
    ensure_schedules()
    names = sorted(Schedule.objects.filter(func__startswith="exports.")
                   .values_list("name", flat=True))
    assert names == ["nexus: delete expired exports", "nexus: reap stalled export jobs"]


def test_retried_exports_are_byte_identical(demo):
    first = new_job(demo, shuffle=True, seed=9, split=0.3, include_images=True)
    tasks.run_export(str(first.pk))
    first.refresh_from_db()
    ExportJob.objects.filter(pk=first.pk).update(status="queued")  # as if retried after a crash
    tasks.run_export(str(first.pk))
    files = sorted((services.export_dir() / str(first.pk)).rglob("*.zip"))
    assert len(files) == 2
    assert files[0].read_bytes() == files[1].read_bytes()


@pytest.mark.parametrize("mutate", ["salt", "inactive"])
def test_signed_links_for_another_purpose_or_a_deactivated_owner_are_refused(
        client, demo, mutate):
    from django.core import signing

    from exports import links
    job = new_job(demo)
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    if mutate == "salt":
        token = signing.dumps({"job": str(job.pk), "owner": job.owner_id}, salt="another-use",
                              compress=True)
        path = f"/exports/link/{token}/"
    else:
        demo.owner.is_active = False
        demo.owner.save()
        path = links.signed_path(job)
    assert client.get(path).status_code == 404
