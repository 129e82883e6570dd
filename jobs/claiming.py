"""Claim, heartbeat and cancel for any BackgroundJob model, with conditional UPDATEs only.

A task claims its job in one UPDATE (queued, or running with a stale heartbeat or a dead worker)
that bumps the attempt counter and records a fresh token; a task that cannot claim does nothing.
Later writes are conditional on that token, so a worker that lost its job (cancelled, or taken
over after it went quiet) notices at its next progress write and stops.

A worker is "known dead" when it ran on this host and its process is gone (or a zombie): such a
job needs no staleness wait, and it does not count toward its owner's running limit.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import BackgroundJob, JobStatus
from .queue import enqueue


class Deferred(Exception):
    """The owner already has the maximum number of jobs of this kind running."""


class Cancelled(Exception):
    """The job is no longer this attempt's: cancelled, or taken over by another worker."""


def stale_before() -> timezone.datetime:
    return timezone.now() - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_known_dead(worker: str) -> bool:
    """True when `worker` (host:pid) ran on this host and that process no longer runs. A worker
    of another host, or a pid reused by another process, is never "known dead": the heartbeat
    staleness decides for those."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:  # a SIGKILLed orphan may stay a zombie
            return handle.read().rsplit(b")", 1)[1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True
    except (OSError, IndexError):
        pass
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def dead_workers(jobs: QuerySet) -> list[str]:
    """The workers of these running jobs that are known dead."""
    workers = set(jobs.filter(status=JobStatus.RUNNING).exclude(worker="")
                  .values_list("worker", flat=True))
    return [w for w in workers if is_known_dead(w)]


def live_running(model: type[BackgroundJob], owner_id) -> QuerySet:
    """The owner's running jobs whose worker may still be working on them."""
    running = model.objects.filter(owner_id=owner_id, status=JobStatus.RUNNING,
                                   heartbeat_at__gte=stale_before())
    return running.exclude(worker__in=dead_workers(running))


def _lock_owner(owner_id) -> None:
    """Serialise the claims and releases of one owner (the running limit is per owner)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.select_for_update().filter(pk=owner_id).first()


def claim(model: type[BackgroundJob], pk, token: str, *,
          running_limit: int | None = None) -> BackgroundJob | None:
    """The claimed job, None when it cannot be claimed; raises Deferred at the owner's limit
    (the job stays queued with no broker message until `release_deferred` or the reaper)."""
    now, stale = timezone.now(), stale_before()
    with transaction.atomic():
        owner_id = model.objects.filter(pk=pk).values_list("owner_id", flat=True).first()
        if owner_id is None:
            return None
        mine = model.objects.filter(pk=pk)
        claimable = mine.filter(Q(status=JobStatus.QUEUED)
                                | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale)
                                | Q(status=JobStatus.RUNNING, worker__in=dead_workers(mine)))
        if running_limit is not None:
            _lock_owner(owner_id)
            running = live_running(model, owner_id).exclude(pk=pk).count()
            if running >= running_limit:
                if claimable.filter(status=JobStatus.QUEUED).update(enqueued_at=None):
                    raise Deferred()
                return None
        claimed = claimable.update(status=JobStatus.RUNNING, attempts=F("attempts") + 1,
                                   worker_token=token, worker=worker_name(), heartbeat_at=now,
                                   progress_done=0, started_at=Coalesce("started_at", Value(now)))
    return model.objects.get(pk=pk) if claimed else None


def owned(job: BackgroundJob, token: str) -> QuerySet:
    """The job's row, as long as this attempt still holds it."""
    return type(job).objects.filter(pk=job.pk, worker_token=token, status=JobStatus.RUNNING)


def too_many_attempts_message(attempts: int, doing: str) -> str:
    return f"the worker stopped {attempts} times while {doing}"


class ProgressWriter:
    """Writes progress at most once per interval; each write is the heartbeat and cancel check."""

    def __init__(self, job: BackgroundJob, token: str) -> None:
        self.job, self.token = job, token
        self.interval = settings.NEXUS_PROGRESS_INTERVAL
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.interval:
            return
        self.last = now
        if not owned(self.job, self.token).update(progress_done=done, progress_total=total,
                                                  heartbeat_at=timezone.now()):
            raise Cancelled()


def release_deferred(model: type[BackgroundJob], owner_id, running_limit: int) -> int:
    """Enqueue the owner's oldest deferred jobs (queued, no broker message) into the slots that
    are free: the limit less the jobs running live and the jobs queued with a message already on
    its way. Called when a slot frees (a job ends or is cancelled) and by the reaper."""
    with transaction.atomic():
        _lock_owner(owner_id)
        queued = model.objects.filter(owner_id=owner_id, status=JobStatus.QUEUED)
        busy = live_running(model, owner_id).count() + queued.exclude(enqueued_at=None).count()
        free = running_limit - busy
        if free <= 0:
            return 0
        waiting = list(queued.filter(enqueued_at=None).order_by("created_at")
                       .values_list("pk", flat=True)[:free])
        for pk in waiting:  # inside the lock, so two releases never hand out one job twice
            enqueue(model, pk)
    return len(waiting)


def cancel(job: BackgroundJob) -> bool:
    """Cancel a queued or running job; a running attempt notices at its next progress write."""
    return bool(type(job).objects.filter(pk=job.pk, status__in=BackgroundJob.ACTIVE).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), error=""))
