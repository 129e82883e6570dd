"""Chaos: a real qcluster's whole process group SIGKILLed with exports queued and running, then
restarted, and nothing but the cluster's own reaper to recover (the test never reaps).

It reproduces issue 18's items 1, 2 and 5: the messages the dead cluster took stay locked in the
broker for an hour, yet every job runs again from its row; the dead cluster's jobs do not hold the
owner's running limit; a zip published by an attempt that never recorded it is swept. Slow.
"""

from __future__ import annotations

import signal
import time
import zipfile

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from exports import services
from exports.models import ExportJob

from ..factories import dataset_with_boxes, stored_sample_image
from ..worker import STALE, stop, wait_for
from .test_worker_crashes import start_export

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("quick_staleness")]

JOBS = 8


def statuses(jobs) -> list[str]:
    return list(ExportJob.objects.filter(pk__in=[j.pk for j in jobs])
                .values_list("status", flat=True))


def test_sigkill_of_the_cluster_group_with_jobs_queued_then_a_restart_drains_all(owner,
                                                                                 clusters):
    dataset = dataset_with_boxes(owner, 4000, file=stored_sample_image())
    first = clusters(NEXUS_WORKERS="2")
    jobs = [start_export(dataset, seed) for seed in range(JOBS)]
    wait_for(lambda: statuses(jobs).count("running") == 2, timeout=60, interval=0.05)
    # item 5: an attempt that published its zip and was killed before recording it
    orphan = services.export_dir() / str(jobs[-1].pk) / "killed-before-recording"
    orphan.mkdir(parents=True)
    (orphan / "export.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    stop(first, signal.SIGKILL)
    assert OrmQ.objects.filter(lock__gt=timezone.now()).exists()  # the dead cluster's messages
    restarted = time.monotonic()
    clusters(NEXUS_WORKERS="2")
    # item 1 and 2: within twice the staleness (plus the cluster's start-up) both of the owner's
    # slots are working again, although the dead jobs' heartbeats were fresh at the kill
    wait_for(lambda: statuses(jobs).count("running") == 2, timeout=2 * STALE + 10,
             interval=0.05)
    wait_for(lambda: all(s == "finished" for s in statuses(jobs)), timeout=120, interval=0.2)
    drained = time.monotonic() - restarted
    final = list(ExportJob.objects.filter(pk__in=[j.pk for j in jobs]))
    assert max(j.attempts for j in final) <= 2
    work = sum((j.finished_at - j.started_at).total_seconds() for j in final)
    assert drained < work + 2 * STALE + 15, (drained, work)
    # item 5 and exactly once: each job keeps one zip, its recorded attempt's, and it is sound
    wait_for(lambda: not orphan.exists(), timeout=4 * STALE, interval=0.2)
    for job in final:
        zips = list((services.export_dir() / str(job.pk)).rglob("*.zip"))
        assert zips == [services.job_file(job)], job.pk
        with zipfile.ZipFile(zips[0]) as archive:
            assert archive.testzip() is None
