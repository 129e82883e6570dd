"""The reaper for any BackgroundJob model: the broker and the workers are disposable.

It requeues running jobs whose worker stopped sending heartbeats or is known dead (or errors them
past the maximum attempts), re-enqueues queued jobs that no worker took up, and hands the free
slots of an owner at the running limit to the jobs that limit deferred.

The job row decides, not the broker: a message a cluster has taken stays locked in the ORM broker
for `retry` (an hour) even when that cluster was killed, so only messages still waiting for a
worker, or taken within the queued window (30 s, or the staleness if shorter), count as pending;
a queued job that no worker claimed is otherwise handed out again. A duplicate message is
harmless: the claim is a conditional UPDATE, so the second delivery finds the job taken and does
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from datasets.stored_files import sweep_local_folder

from .claiming import dead_workers, stale_before, too_many_attempts_message
from .models import BackgroundJob, JobStatus
from .queue import enqueue, task_name

QUEUED_GRACE_SECONDS = 30  # an enqueue in flight is not "lost" yet


def queued_window() -> timedelta:
    """How long a queued job may go unclaimed after its message was sent or taken (the grace, or
    the heartbeat staleness when that is shorter)."""
    return timedelta(seconds=min(QUEUED_GRACE_SECONDS, settings.NEXUS_HEARTBEAT_STALE_SECONDS))


def pending_task_names() -> set[str] | None:
    """Names of the tasks waiting in the broker for a worker; None when the broker cannot be
    listed. A message a cluster has taken (locked) is not pending: that cluster may be dead."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    kind = type(broker).__name__
    if kind == "ORM":
        from django_q.models import OrmQ

        waiting = OrmQ.objects.filter(key=broker.list_key, lock__lte=timezone.now())
        return {q.name() for q in waiting}
    if kind == "Redis":
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
        return {SignedPackage.loads(p).get("name") for p in payloads}
    return None


def recently_taken_task_names() -> set[str]:
    """Names of the tasks a cluster took from the ORM broker within the queued window (its lock
    ends `retry` seconds after the take): that cluster may still be about to run them. One taken
    longer ago and still not claimed is presumed held by a dead cluster; if its cluster was only
    busy, the second delivery finds the job taken and does nothing."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    broker = get_broker()
    if type(broker).__name__ != "ORM":
        return set()
    from django_q.models import OrmQ

    since = timezone.now() - queued_window()
    taken = OrmQ.objects.filter(key=broker.list_key,
                                lock__gt=since + timedelta(seconds=Conf.RETRY))
    return {q.name() for q in taken}


def reap(model: type[BackgroundJob], *, doing: str,
         release: Callable[[object], int] | None = None) -> dict[str, int]:
    """`release(owner_id)` hands an owner's free slots to its deferred jobs (jobs queued with no
    message); without it, deferred jobs are simply enqueued again."""
    now, stale = timezone.now(), stale_before()
    report = {"requeued": 0, "errored": 0, "reenqueued": 0}
    running = model.objects.filter(status=JobStatus.RUNNING)
    dead = dead_workers(running)
    gone = Q(heartbeat_at__lt=stale) | Q(worker__in=dead)
    for job in running.filter(gone):
        mine = model.objects.filter(gone, pk=job.pk, status=JobStatus.RUNNING,
                                    worker_token=job.worker_token)
        if job.attempts >= settings.NEXUS_MAX_ATTEMPTS:
            report["errored"] += mine.update(
                status=JobStatus.ERRORED, finished_at=now,
                error=too_many_attempts_message(job.attempts, doing))
        elif mine.update(status=JobStatus.QUEUED, worker_token="", heartbeat_at=None):
            report["requeued"] += 1
            enqueue(model, job.pk)
    pending = pending_task_names()
    if pending is not None:
        pending |= recently_taken_task_names()
    window = now - queued_window()
    queued = model.objects.filter(status=JobStatus.QUEUED, created_at__lt=window)
    for job in queued.filter(enqueued_at__lt=window):
        if pending is None or task_name(model, job.pk) not in pending:
            enqueue(model, job.pk)
            report["reenqueued"] += 1
    deferred = queued.filter(enqueued_at=None)
    if release is None:
        for pk in deferred.values_list("pk", flat=True):
            enqueue(model, pk)
            report["reenqueued"] += 1
    else:
        for owner_id in set(deferred.values_list("owner_id", flat=True)):
            report["reenqueued"] += release(owner_id)
    return report


def sweep(folder: Path, live: set[str]) -> int:
    """Remove entries of `folder` named after no live attempt (`<pk>-<token>[.suffix]`) and
    untouched for longer than a heartbeat may be late."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - settings.NEXUS_HEARTBEAT_STALE_SECONDS
    return sweep_local_folder(folder, lambda entry: entry.name.split(".", 1)[0] in live
                              or entry.stat().st_mtime > cutoff)
