"""Export jobs: create (de-duplicated), run in the worker (claim, heartbeat, publish), cancel,
expire. Views, the task and the management command all call these.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import nexus
from annotations import mapping
from annotations.formats import registry
from annotations.formats.errors import FormatError
from annotations.formats.labels import check_skeleton_sizes, class_ids, class_plan
from annotations.formats.options import ExportOptions, OptionError
from annotations.formats.pipeline import ExportRequest, export_zip, order_and_split
from annotations.formats.spec import FAMILY_KINDS
from datasets.models import Dataset
from jobs import claiming, queue

from . import storage
from .models import ExportJob
from .selectors import has_family

log = logging.getLogger(__name__)
Status = ExportJob.Status
DOING = "exporting"  # "the worker stopped 3 times while exporting"


# --- create -------------------------------------------------------------------------------------

def export_job_create(*, owner, dataset: Dataset, format_id: str, options: ExportOptions,
                      enqueue: bool = True, reuse_active: bool = True) -> tuple[ExportJob, bool]:
    """A new queued job, or the identical job already queued or running (created=False).

    The shell command passes enqueue=False and runs the job itself, in its own process."""
    spec = registry.get_spec(format_id)
    if not has_family(dataset, spec.family):
        raise ValidationError({"format": f"{spec.name} exports {spec.family}, and this dataset "
                                         f"has none."})
    options = options.for_format(spec)
    try:  # unknown labels, or skeletons the format cannot take, are refused now, not in the worker
        labels = mapping.dataset_labels(dataset)
        counts = mapping.dataset_label_kinds(dataset) if spec.one_skeleton_size else {}
        plan = class_plan(labels, counts, spec, options)
        check_skeleton_sizes(plan, mapping.dataset_skeletons(dataset), spec, counts)
    except OptionError as exc:
        raise ValidationError({exc.field: exc.message})
    if options.split_mode == "keep" and not mapping.has_recorded_sets(dataset):
        raise ValidationError({"split_mode": "Keep puts each image back in the set it was "
                                             "uploaded in, and no image of this dataset came with "
                                             "a set (upload a dataset with train/, valid/ or test/ "
                                             "folders to record them)."})
    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()  # serialise creators
        if reuse_active:
            active = ExportJob.objects.filter(status__in=ExportJob.ACTIVE, owner=owner,
                                              dataset=dataset, format=spec.id)
            found = next((job for job in active.order_by("-created_at")
                          if options.same_export(job.export_options)), None)
            if found is not None:
                return found, False
        job = ExportJob.objects.create(owner=owner, dataset=dataset, format=spec.id,
                                       options=options.with_seed().as_json(),
                                       seed_given=options.seed is not None)
        if enqueue:
            transaction.on_commit(partial(enqueue_export, job.pk))
    return job, True


def enqueue_export(job_id: uuid.UUID) -> None:
    queue.enqueue(ExportJob, job_id)


# --- run (in the worker) ------------------------------------------------------------------------

def release_deferred(owner_id: int) -> int:
    """Enqueue the owner's oldest exports deferred by the running-exports limit, one per free
    slot: called whenever a slot frees (an export ends or is cancelled) and by the reaper."""
    return claiming.release_deferred(ExportJob, owner_id,
                                     settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER)


def export_dir() -> Path:
    """The worker's local folder: work in progress (tmp/), and published zips on local disk."""
    return Path(settings.NEXUS_EXPORT_DIR)


def _image_opener() -> Callable[[str], IO[bytes]]:
    """How the zip writer reads a stored image. On local disk: the file itself, unbuffered (it is
    read whole, once): 10k small images open in about half the time Storage.open takes. A name
    that could leave the media folder goes through the storage's own checks, which refuse it."""
    if not isinstance(default_storage, FileSystemStorage):
        return partial(default_storage.open, mode="rb")
    location = default_storage.location

    def open_local(ref: str) -> IO[bytes]:
        if ref.startswith("/") or "\\" in ref or ".." in ref.split("/"):
            return open(default_storage.path(ref), "rb", buffering=0)
        return open(os.path.join(location, ref), "rb", buffering=0)

    return open_local


def build_request(job: ExportJob) -> ExportRequest:
    dataset = job.dataset
    options = job.export_options
    spec = registry.get_spec(job.format)
    labels, label_kinds = mapping.dataset_labels(dataset), mapping.dataset_label_kinds(dataset)
    ids = mapping.image_ids_in_upload_order(dataset)
    classes = None
    if options.split_mode == "stratified":
        plan = class_plan(labels, label_kinds, spec, options)
        classes = class_ids(mapping.image_label_counts(dataset, FAMILY_KINDS[spec.family]), plan)
    hashes, recorded = mapping.split_inputs(dataset, options.split_mode)
    chunk = settings.NEXUS_EXPORT_CHUNK
    split = order_and_split(ids, options, classes=classes, hashes=hashes, recorded=recorded)
    sets = {name: mapping.iter_image_records(set_ids, chunk=min(chunk, 900))
            for name, set_ids in split.items()}
    return ExportRequest(format_id=job.format, dataset_id=dataset.pk, dataset_name=dataset.name,
                         created_at=job.created_at, options=options, labels=labels,
                         skeletons=mapping.dataset_skeletons(dataset), sets=sets,
                         total_images=len(ids), nexus_version=nexus.__version__,
                         label_kinds=label_kinds)


def export_job_run(job_id: str) -> str:
    """Run one attempt of the job; returns what happened (for the worker's log)."""
    token = uuid.uuid4().hex
    try:
        job = claiming.claim(ExportJob, job_id, token,
                             running_limit=settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER)
    except claiming.Deferred:
        return "deferred"
    if job is None:
        return "not claimed"
    try:
        return _run_claimed(job, token)
    finally:
        release_deferred(job.owner_id)


def _run_claimed(job: ExportJob, token: str) -> str:
    if job.attempts > settings.NEXUS_MAX_ATTEMPTS:
        claiming.owned(job, token).update(
            status=Status.ERRORED, finished_at=timezone.now(),
            error=claiming.too_many_attempts_message(job.attempts - 1, DOING))
        return "errored: too many attempts"
    # Everything of this attempt is named after it, so the reaper can tell live from dead.
    work = export_dir() / "tmp" / f"{job.pk}-{token}"
    work.mkdir(parents=True, exist_ok=True)
    tmp = work.with_name(work.name + ".zip.part")
    try:
        summary = export_zip(build_request(job), str(tmp), image_loader=_image_opener(),
                             progress=claiming.ProgressWriter(job, token), work_dir=str(work))
        return _publish(job, token, tmp, summary)
    except claiming.Cancelled:
        return "cancelled"
    except Exception as exc:  # the job row must say why, whatever broke
        log.exception("export %s failed", job.pk)
        claiming.owned(job, token).update(status=Status.ERRORED, finished_at=timezone.now(),
                                          error=readable_error(exc))
        return "errored"
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _publish(job: ExportJob, token: str, tmp: Path, summary) -> str:
    size, digest = _fsync_and_hash(tmp)
    name = f"{summary.top_folder}.zip"
    relative = f"{job.pk}/{token}/{name}"  # per attempt: a losing duplicate deletes only its own
    storage.publish(tmp, relative)
    now = timezone.now()
    published = claiming.owned(job, token).update(
        status=Status.FINISHED, finished_at=now, file_path=relative, file_name=name,
        file_size=size, sha256=digest, counts=summary.sets, progress_done=F("progress_total"),
        expires_at=now + timedelta(hours=settings.NEXUS_EXPORT_LINK_HOURS), error="")
    if not published:
        storage.delete_tree(f"{job.pk}/{token}")
        return "lost the race"
    return "finished"


def _fsync_and_hash(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(partial(handle.read, 1 << 20), b""):
            digest.update(block)
        os.fsync(handle.fileno())
    return path.stat().st_size, digest.hexdigest()


def readable_error(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "The server ran out of disk space while writing the export. Free some space and " \
               "export again."
    if isinstance(exc, OSError):
        return f"A storage error stopped the export: {exc.strerror or exc}."
    if isinstance(exc, (FormatError, ValueError)):
        return f"The export could not be written: {exc}"
    return f"The export failed unexpectedly ({type(exc).__name__}: {exc})."


# --- cancel, expiry -----------------------------------------------------------------------------

def export_job_cancel(*, job: ExportJob) -> bool:
    """Cancel a queued or running job; the worker notices at its next progress write. The files
    of its attempts go now (a running attempt that publishes later deletes its own), and its
    slot goes to the owner's next deferred export."""
    if not claiming.cancel(job):
        return False
    storage.delete_tree(str(job.pk))
    release_deferred(job.owner_id)
    return True


def export_job_remove(*, job: ExportJob) -> bool:
    """Remove an ended job and its files; a queued or running one is cancelled first, not
    removed (its worker still writes)."""
    if job.status not in ExportJob.ENDED:
        return False
    storage.delete_tree(str(job.pk))
    return ExportJob.objects.filter(pk=job.pk, status__in=ExportJob.ENDED).delete()[0] > 0


def export_jobs_clear(*, owner, dataset: Dataset) -> int:
    """Remove every ended export of the owner on this dataset (its files too)."""
    removed = 0
    for job in ExportJob.objects.filter(owner=owner, dataset=dataset,
                                        status__in=ExportJob.ENDED).iterator():
        removed += export_job_remove(job=job)
    return removed


def has_file(job: ExportJob) -> bool:
    return (job.status == Status.FINISHED and bool(job.file_path) and not job.file_deleted_at
            and storage.exists(job.file_path))


def job_file(job: ExportJob) -> Path | None:
    """The zip's path when exports are on local disk (tests and the shell command use it)."""
    if not job.file_path or job.file_deleted_at:
        return None
    return storage.local_path(job.file_path)


def is_expired(job: ExportJob) -> bool:
    return job.expires_at is not None and job.expires_at <= timezone.now()


def expired_exports_delete() -> int:
    """Delete the files of expired jobs. An open download keeps reading: POSIX unlink leaves an
    open file readable, so a download in progress is never cut short."""
    deleted = 0
    expired = ExportJob.objects.filter(expires_at__lte=timezone.now(), file_deleted_at=None
                                       ).exclude(file_path="")
    for job in expired.iterator():
        storage.delete_tree(str(job.pk))
        ExportJob.objects.filter(pk=job.pk).update(file_deleted_at=timezone.now())
        deleted += 1
    return deleted
