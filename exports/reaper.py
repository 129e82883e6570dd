"""The reaper: the job row is the truth, the broker and the workers are disposable.

Runs every minute (a django-q2 schedule). It requeues running jobs whose worker stopped sending
heartbeats (or errors them past the maximum attempts), re-enqueues queued jobs that have no broker
message (a lost Redis message, an enqueue that never ran), and sweeps temporary files of dead
attempts.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .models import ExportJob
from .services import enqueue_export, export_dir, too_many_attempts_message

log = logging.getLogger(__name__)
Status = ExportJob.Status
QUEUED_GRACE_SECONDS = 30  # an enqueue in flight is not "lost" yet


def pending_task_names() -> set[str] | None:
    """Names of the tasks waiting in (or taken from but not acknowledged by) the broker; None
    when the broker cannot be listed."""
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


def jobs_reap() -> dict[str, int]:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS)
    report = {"requeued": 0, "errored": 0, "reenqueued": 0, "swept": 0}
    for job in ExportJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale):
        mine = ExportJob.objects.filter(pk=job.pk, status=Status.RUNNING,
                                        worker_token=job.worker_token, heartbeat_at__lt=stale)
        if job.attempts >= settings.NEXUS_MAX_ATTEMPTS:
            report["errored"] += mine.update(status=Status.ERRORED, finished_at=now,
                                             error=too_many_attempts_message(job.attempts))
        elif mine.update(status=Status.QUEUED, worker_token="", heartbeat_at=None):
            report["requeued"] += 1
            enqueue_export(job.pk)
    report["reenqueued"] = _reenqueue_lost(now)
    report["swept"] = sweep_temporary_files()
    if any(report.values()):
        log.info("reaper: %s", report)
    return report


def _reenqueue_lost(now) -> int:
    pending = pending_task_names()
    grace = now - timedelta(seconds=QUEUED_GRACE_SECONDS)
    count = 0
    lost = ExportJob.objects.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=grace),
                                    status=Status.QUEUED, created_at__lt=grace)
    for job in lost:
        if pending is not None and f"export-{job.pk}" in pending:
            continue
        ExportJob.objects.filter(pk=job.pk).update(enqueued_at=now, enqueues=F("enqueues") + 1)
        enqueue_export(job.pk)
        count += 1
    return count


def sweep_temporary_files() -> int:
    """Remove partial zips and work folders that no live attempt owns."""
    tmp = export_dir() / "tmp"
    if not tmp.is_dir():
        return 0
    live = {f"{pk}-{token}" for pk, token in ExportJob.objects.filter(
        status=Status.RUNNING).values_list("pk", "worker_token")}
    cutoff = time.time() - settings.NEXUS_HEARTBEAT_STALE_SECONDS
    swept = 0
    for entry in tmp.iterdir():
        owner = entry.name.removesuffix(".zip.part")
        if owner in live or entry.stat().st_mtime > cutoff:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        swept += 1
    return swept
