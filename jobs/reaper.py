"""The reaper for any BackgroundJob model: the broker and the workers are disposable.

It requeues running jobs whose worker stopped sending heartbeats (or errors them past the maximum
attempts) and re-enqueues queued jobs that have no broker message (a lost Redis message, an
enqueue that never ran, a job deferred by the per-owner limit).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .claiming import stale_before, too_many_attempts_message
from .models import BackgroundJob, JobStatus

QUEUED_GRACE_SECONDS = 30  # an enqueue in flight is not "lost" yet


def pending_task_names() -> set[str] | None:
    """Names of the tasks waiting in (or taken but not acknowledged by) the broker; None when the
    broker cannot be listed."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    kind = type(broker).__name__
    if kind == "ORM":
        from django_q.models import OrmQ

        return {q.name() for q in OrmQ.objects.filter(key=broker.list_key)}
    if kind == "Redis":
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
        return {SignedPackage.loads(p).get("name") for p in payloads}
    return None


def reap(model: type[BackgroundJob], *, enqueue: Callable[[object], None],
         task_name: Callable[[object], str], doing: str) -> dict[str, int]:
    now, stale = timezone.now(), stale_before()
    report = {"requeued": 0, "errored": 0, "reenqueued": 0}
    for job in model.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale):
        mine = model.objects.filter(pk=job.pk, status=JobStatus.RUNNING,
                                    worker_token=job.worker_token, heartbeat_at__lt=stale)
        if job.attempts >= settings.NEXUS_MAX_ATTEMPTS:
            report["errored"] += mine.update(
                status=JobStatus.ERRORED, finished_at=now,
                error=too_many_attempts_message(job.attempts, doing))
        elif mine.update(status=JobStatus.QUEUED, worker_token="", heartbeat_at=None):
            report["requeued"] += 1
            enqueue(job.pk)
    pending = pending_task_names()
    grace = now - timedelta(seconds=QUEUED_GRACE_SECONDS)
    lost = model.objects.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=grace),
                                status=JobStatus.QUEUED, created_at__lt=grace)
    for job in lost:
        if pending is None or task_name(job.pk) not in pending:
            enqueue(job.pk)
            report["reenqueued"] += 1
    return report


def sweep(folder: Path, live: set[str]) -> int:
    """Remove entries of `folder` named after no live attempt (`<pk>-<token>[.suffix]`) and
    untouched for longer than a heartbeat may be late."""
    if not folder.is_dir():
        return 0
    cutoff = time.time() - settings.NEXUS_HEARTBEAT_STALE_SECONDS
    swept = 0
    for entry in folder.iterdir():
        if entry.name.split(".", 1)[0] in live or entry.stat().st_mtime > cutoff:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        swept += 1
    return swept
