"""Import jobs: start one from an upload, run it in the worker, confirm it, discard it.

    upload -> import_upload_start  small and not TFRecord: analysed here, preview at once
                                   otherwise: queued for the worker's analysis
    worker -> import_job_run       phase "analyse": read + plan -> preview (status finished)
                                   phase "import":  the plan, in one transaction -> counts
    user   -> import_job_confirm / import_job_discard

The job row is the truth (jobs.claiming): a worker claims it with a token, its progress writes
are its heartbeat and cancel check, and its final update is conditional on still owning it.
"""

from __future__ import annotations

import errno
import logging
import threading
import uuid
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from annotations.formats.errors import FormatError
from annotations.formats.families.tfrecord_writer import is_record_file
from annotations.formats.io.source import Source, UnsafeArchive
from datasets.models import Dataset
from datasets.upload_folders import (
    local_root,
    upload_file,
    upload_local,
    upload_persist,
    upload_read,
    upload_release_local,
    upload_remove,
    upload_save_file,
    upload_write,
)
from datasets.uploads import UploadRefused, close_source, open_upload
from jobs import claiming, queue

from .importing import analyse_source, uses_tensorflow
from .matching import ImportRefused
from .models import ImportJob
from .plans import Plan, plan_apply

log = logging.getLogger(__name__)
Status, Phase = ImportJob.Status, ImportJob.Phase
DOING = "importing"  # "the worker stopped 3 times while importing"
PLAN, PLAN_ROWS = "plan.json", "plan-rows.jsonl"


# --- analysing --------------------------------------------------------------------------------

def analyse(source: Source, dataset: Dataset, format_id: str | None, upload_name: str,
            rows_folder: Path | None = None):
    """analyse_source, with any reader failure on hostile input turned into a message."""
    try:
        return analyse_source(source=source, dataset=dataset, format_id=format_id,
                              upload_name=upload_name, rows_folder=rows_folder)
    except UploadRefused:
        raise
    except Exception as exc:
        log.warning("analysis of %s failed", upload_name, exc_info=True)
        raise ImportRefused(readable_error(exc)) from None


def needs_worker(source: Source, size: int, format_id: str | None) -> bool:
    """Large uploads and anything TensorFlow reads are analysed by the worker, never here."""
    return (size > settings.NEXUS_INLINE_ANALYSIS_BYTES or uses_tensorflow(format_id)
            or any(is_record_file(p) for p in source.files()))


# --- start --------------------------------------------------------------------------------------

def import_upload_start(*, owner, dataset: Dataset, upload_id: str, original_name: str,
                        format_id: str | None) -> ImportJob:
    """A job for the upload in `upload_id`: ready for review when it was small enough to analyse
    here, else queued for the worker. Refusals raise UploadRefused and remove the upload."""
    try:
        with upload_local(upload_id) as folder:
            source, size = open_upload(folder / "content")
            try:
                inline = not needs_worker(source, size, format_id)
                analysis = analyse(source, dataset, format_id, original_name,
                                   local_root()) if inline else None
            finally:
                close_source(source)
        common = dict(owner=owner, dataset=dataset, upload_id=upload_id, upload_size=size,
                      original_name=original_name[:255], format=format_id or "")
        if analysis is not None:
            plan_store(upload_id, analysis.plan)
            now = timezone.now()
            job = ImportJob.objects.create(
                phase=Phase.REVIEW, status=Status.FINISHED, report=analysis.report,
                detected_format=analysis.report["format"], started_at=now, finished_at=now,
                progress_done=1, progress_total=1, **common)
        else:
            upload_persist(upload_id)
            with transaction.atomic():
                job = ImportJob.objects.create(**common)
                transaction.on_commit(partial(enqueue_import, job.pk))
        upload_release_local(upload_id)
        return job
    except BaseException:
        upload_remove(upload_id)
        raise


def enqueue_import(job_id: uuid.UUID) -> None:
    queue.enqueue(ImportJob, job_id)


# --- run (in the worker) ------------------------------------------------------------------------

def import_job_run(job_id: str) -> str:
    """Run one attempt of the job's current phase; returns what happened (for the log)."""
    token = uuid.uuid4().hex
    job = claiming.claim(ImportJob, job_id, token)
    if job is None:
        return "not claimed"
    if job.attempts > settings.NEXUS_MAX_ATTEMPTS:
        claiming.owned(job, token).update(
            status=Status.ERRORED, finished_at=timezone.now(),
            error=claiming.too_many_attempts_message(job.attempts - 1, DOING))
        upload_remove(job.upload_id)
        return "errored: too many attempts"
    try:
        return _import(job, token) if job.phase == Phase.IMPORT else _analyse(job, token)
    except claiming.Cancelled:
        if not ImportJob.objects.filter(pk=job.pk, status__in=ImportJob.ACTIVE).exists():
            upload_remove(job.upload_id)  # cancelled; a job taken over keeps its upload
        return "cancelled"
    except Exception as exc:  # the job row must say why, whatever broke
        if not isinstance(exc, UploadRefused):
            log.exception("import %s failed", job.pk)
        if claiming.owned(job, token).update(status=Status.ERRORED, finished_at=timezone.now(),
                                             error=readable_error(exc, job.phase)):
            upload_remove(job.upload_id)
        return "errored"


def _analyse(job: ImportJob, token: str) -> str:
    progress = claiming.ProgressWriter(job, token)
    progress(0, 3)
    with upload_local(job.upload_id) as folder:
        source, _ = open_upload(folder / "content")
        try:
            progress(1, 3)
            with Heartbeat(job, token):
                analysis = analyse(source, job.dataset, job.format or None, job.original_name,
                                   local_root())
        finally:
            close_source(source)
    progress(2, 3)
    plan_store(job.upload_id, analysis.plan)
    done = claiming.owned(job, token).update(
        status=Status.FINISHED, phase=Phase.REVIEW, report=analysis.report,
        detected_format=analysis.report["format"], finished_at=timezone.now(),
        progress_done=3, progress_total=3, error="")
    return "ready for review" if done else "lost the race"


def plan_store(upload_id: str, plan: Plan) -> None:
    try:
        upload_write(upload_id, PLAN, plan.header())
        upload_save_file(upload_id, PLAN_ROWS, plan.rows_path)
    finally:
        plan.discard()  # left only when storing failed


def _import(job: ImportJob, token: str) -> str:
    with upload_file(job.upload_id, PLAN_ROWS) as rows:
        return _import_rows(job, token, Plan.from_header(upload_read(job.upload_id, PLAN), rows))


def _import_rows(job: ImportJob, token: str, plan: Plan) -> str:
    total = plan.annotation_count
    claiming.ProgressWriter(job, token)(0, total)

    def guard() -> None:  # inside the transaction: the row stays ours until commit
        if not list(claiming.owned(job, token).select_for_update().values_list("pk")):
            raise claiming.Cancelled()

    def finish(counts: dict) -> None:  # conditional: losing the job rolls the import back
        if not claiming.owned(job, token).update(
                status=Status.FINISHED, finished_at=timezone.now(), counts=counts,
                progress_done=total, progress_total=total, error=""):
            raise claiming.Cancelled()

    plan_apply(dataset=job.dataset, plan=plan, guard=guard, finish=finish)
    upload_remove(job.upload_id)
    return "imported"


class Heartbeat:
    """Keeps a job's heartbeat fresh while one long call runs (reading a large upload has no
    progress to report), so the reaper does not take a busy job over."""

    def __init__(self, job: ImportJob, token: str) -> None:
        self.job, self.token = job, token
        self.interval = max(1.0, settings.NEXUS_HEARTBEAT_STALE_SECONDS / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    claiming.owned(self.job, self.token).update(heartbeat_at=timezone.now())
                except Exception:  # a missed beat is retried at the next interval
                    log.warning("heartbeat of import %s failed", self.job.pk, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections


def readable_error(exc: BaseException, phase: str = Phase.ANALYSE) -> str:
    if isinstance(exc, UploadRefused):
        return exc.message
    if isinstance(exc, (FormatError, UnsafeArchive)):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The server ran out of disk space; nothing was imported. Try again later."
    if isinstance(exc, RecursionError):
        return "The upload is nested too deeply to be read."
    if isinstance(exc, MemoryError):
        return "The upload is too large to be read in memory."
    if phase == Phase.IMPORT:
        return f"The import failed ({type(exc).__name__}: {exc}); nothing was imported."
    return f"The upload could not be read ({type(exc).__name__}: {exc})."


# --- confirm, discard, expire -------------------------------------------------------------------

def _awaiting(job: ImportJob):
    return ImportJob.objects.filter(pk=job.pk, phase=Phase.REVIEW, status=Status.FINISHED)


def import_job_confirm(*, job: ImportJob) -> bool:
    """Queue the import of a reviewed job (False when it is not waiting for confirmation)."""
    with transaction.atomic():
        updated = _awaiting(job).update(
            phase=Phase.IMPORT, status=Status.QUEUED, attempts=0, progress_done=0,
            progress_total=0, worker_token="", worker="", heartbeat_at=None, started_at=None,
            finished_at=None, enqueued_at=None, error="", confirmed_at=timezone.now())
        if updated:
            transaction.on_commit(partial(enqueue_import, job.pk))
    return bool(updated)


def import_job_discard(*, job: ImportJob) -> bool:
    """Drop a preview, or cancel a queued or running job; its upload is removed."""
    discarded = bool(_awaiting(job).update(status=Status.CANCELLED, finished_at=timezone.now()))
    if discarded or claiming.cancel(job):
        upload_remove(job.upload_id)  # a running attempt notices at its next write
        return True
    return False


def expired_reviews_discard() -> int:
    """Previews nobody confirmed within NEXUS_IMPORT_REVIEW_HOURS are dropped with their upload."""
    cutoff = timezone.now() - timedelta(hours=settings.NEXUS_IMPORT_REVIEW_HOURS)
    count = 0
    for job in ImportJob.objects.filter(phase=Phase.REVIEW, status=Status.FINISHED,
                                        finished_at__lt=cutoff):
        if _awaiting(job).update(status=Status.CANCELLED, error="The preview expired after "
                                 f"{settings.NEXUS_IMPORT_REVIEW_HOURS} hours; upload the "
                                 "file again."):
            upload_remove(job.upload_id)
            count += 1
    return count


def live_upload_ids() -> set[str]:
    return set(ImportJob.objects.filter(
        Q(status__in=ImportJob.ACTIVE) | Q(phase=Phase.REVIEW, status=Status.FINISHED))
        .values_list("upload_id", flat=True))
