"""Recovery decided from the job row: messages locked by a dead cluster, workers known dead, the
per-owner limit freed at once, orphan zips of lost attempts."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from django.urls import reverse
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from exports import reaper, services, tasks
from exports.models import ExportJob

from .test_reliability import new_job


def dead_worker() -> str:
    """The host:pid of a process of this host that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def run_by_dead_worker(job: ExportJob, attempts: int = 1) -> None:
    ExportJob.objects.filter(pk=job.pk).update(status="running", attempts=attempts,
                                               worker_token="lost", worker=dead_worker(),
                                               heartbeat_at=timezone.now())


def taken(when) -> None:
    """Every broker message as a cluster's feeder leaves it when it takes it at `when`."""
    OrmQ.objects.update(lock=when + timedelta(seconds=Conf.RETRY))


def test_a_queued_job_whose_message_a_dead_cluster_took_is_handed_out_again(demo, settings):
    job, _ = services.export_job_create(owner=demo.owner, dataset=demo, format_id="coco",
                                        options=new_job(demo).export_options, reuse_active=False)
    services.enqueue_export(job.pk)
    # The killed cluster's feeder took the message longer than the staleness ago: the ORM broker
    # keeps it locked for `retry` (an hour) after the take.
    past = timezone.now() - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS + 1)
    taken(past)
    ExportJob.objects.filter(pk=job.pk).update(created_at=past, enqueued_at=past)
    assert f"export-{job.pk}" not in reaper.pending_task_names()
    assert reaper.jobs_reap()["reenqueued"] == 1
    assert f"export-{job.pk}" in reaper.pending_task_names()  # a new, unlocked message
    assert reaper.jobs_reap()["reenqueued"] == 0


def test_a_queued_job_taken_moments_ago_is_left_to_its_cluster(demo):
    job = new_job(demo)
    services.enqueue_export(job.pk)
    long_ago = timezone.now() - timedelta(minutes=10)  # it waited behind other tasks
    ExportJob.objects.filter(pk=job.pk).update(created_at=long_ago, enqueued_at=long_ago)
    taken(timezone.now())
    assert reaper.jobs_reap()["reenqueued"] == 0


def test_a_running_job_whose_worker_is_dead_is_requeued_without_waiting(demo):
    job = new_job(demo)
    run_by_dead_worker(job)
    report = reaper.jobs_reap()
    assert report["requeued"] == 1
    job.refresh_from_db()
    assert job.status == "queued" and f"export-{job.pk}" in reaper.pending_task_names()
    assert tasks.run_export(str(job.pk)) == "finished"


def test_a_running_job_of_a_live_worker_is_left_alone(demo):
    job = new_job(demo)
    ExportJob.objects.filter(pk=job.pk).update(status="running", attempts=1, worker_token="t",
                                               worker=services.claiming.worker_name(),
                                               heartbeat_at=timezone.now())
    assert reaper.jobs_reap()["requeued"] == 0


def test_a_job_of_a_dead_worker_does_not_count_toward_the_running_limit(demo, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    crashed = new_job(demo)
    run_by_dead_worker(crashed)
    waiting = new_job(demo, seed=1, shuffle=True)
    assert tasks.run_export(str(waiting.pk)) == "finished"
    # and a message for the crashed job takes it over at once, without the staleness wait
    assert tasks.run_export(str(crashed.pk)) == "finished"
    crashed.refresh_from_db()
    assert crashed.attempts == 2


def test_cancelling_a_running_export_hands_its_slot_to_the_next_deferred_one(demo, owner_client,
                                                                           settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    busy = new_job(demo)
    ExportJob.objects.filter(pk=busy.pk).update(status="running", worker_token="busy",
                                                worker=services.claiming.worker_name(),
                                                heartbeat_at=timezone.now())
    waiting = new_job(demo, seed=1, shuffle=True)
    assert tasks.run_export(str(waiting.pk)) == "deferred"
    owner_client.post(reverse("exports:cancel", args=[busy.pk]))
    waiting.refresh_from_db()
    assert waiting.enqueued_at is not None
    assert f"export-{waiting.pk}" in reaper.pending_task_names()


def test_the_reaper_releases_deferred_jobs_only_into_free_slots(demo, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    busy = new_job(demo)
    ExportJob.objects.filter(pk=busy.pk).update(status="running", worker_token="busy",
                                                worker=services.claiming.worker_name(),
                                                heartbeat_at=timezone.now())
    deferred = [new_job(demo, seed=s, shuffle=True) for s in (1, 2)]
    long_ago = timezone.now() - timedelta(minutes=5)
    ExportJob.objects.filter(pk__in=[j.pk for j in deferred]).update(created_at=long_ago)
    assert reaper.jobs_reap()["reenqueued"] == 0  # no slot: nothing to churn through
    ExportJob.objects.filter(pk=busy.pk).update(status="finished")
    assert reaper.jobs_reap()["reenqueued"] == 1  # one slot, one job
    first = ExportJob.objects.get(pk=deferred[0].pk)
    assert first.enqueued_at is not None


def orphan_attempt(job: ExportJob, token: str = "killed") -> Path:
    """The zip a worker published before it was killed, without recording it."""
    folder = services.export_dir() / str(job.pk) / token
    folder.mkdir(parents=True)
    (folder / "export.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    return folder


def test_the_sweep_removes_attempts_that_are_not_the_recorded_one(demo):
    job = new_job(demo)
    killed = orphan_attempt(job)
    assert tasks.run_export(str(job.pk)) == "finished"  # attempt two publishes and records
    job.refresh_from_db()
    assert reaper.jobs_reap()["swept"] == 1
    assert not killed.exists()
    assert services.job_file(job).is_file()  # the recorded zip stays
    ended = new_job(demo, seed=3, shuffle=True)
    ExportJob.objects.filter(pk=ended.pk).update(status="errored")
    errored_leftover = orphan_attempt(ended)
    running = new_job(demo, seed=4, shuffle=True)
    ExportJob.objects.filter(pk=running.pk).update(status="running", worker_token="live",
                                                   worker=services.claiming.worker_name(),
                                                   heartbeat_at=timezone.now())
    publishing = orphan_attempt(running, "live")  # published, about to be recorded
    reaper.jobs_reap()
    assert not errored_leftover.exists() and publishing.exists()


def test_cancelling_removes_the_files_of_every_attempt(demo, owner_client):
    job = new_job(demo)
    ExportJob.objects.filter(pk=job.pk).update(status="running", worker_token="second",
                                               worker=services.claiming.worker_name(),
                                               heartbeat_at=timezone.now(), attempts=2)
    killed = orphan_attempt(job)
    owner_client.post(reverse("exports:cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not killed.exists() and not (services.export_dir() / str(job.pk)).exists()
