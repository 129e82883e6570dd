"""The import reaper, run every minute by a django-q2 schedule (see jobs/reaper.py).

Stalled jobs are requeued (or errored after NEXUS_MAX_ATTEMPTS: "the worker stopped 3 times while
importing"), previews nobody confirmed expire, and upload folders no live job owns are removed
once nobody has written to them for NEXUS_UPLOAD_ABANDONED_SECONDS.
"""

from __future__ import annotations

import logging

from django.conf import settings

from datasets.upload_folders import uploads_sweep
from jobs.reaper import reap

from .models import ImportJob
from .services import DOING, expired_reviews_discard, live_upload_ids

log = logging.getLogger(__name__)


def import_jobs_reap() -> dict[str, int]:
    report = reap(ImportJob, doing=DOING)
    report["expired"] = expired_reviews_discard()
    report["swept"] = uploads_sweep(live_upload_ids(), settings.NEXUS_UPLOAD_ABANDONED_SECONDS)
    if any(report.values()):
        log.info("import reaper: %s", report)
    return report
