"""The reapers, run by every cluster's parent process every few seconds.

The minute schedule alone leaves a crashed job waiting up to a minute past its staleness (and
behind the broker's hour-long lock after a whole-cluster kill); run every quarter of the staleness
window, a job whose worker died is running again within twice that window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def reap_interval() -> float:
    return min(30.0, max(0.5, settings.NEXUS_HEARTBEAT_STALE_SECONDS / 4))


def reap_once() -> None:
    for path in settings.NEXUS_REAPERS:
        close_old_connections()
        try:
            import_string(path)()
        except Exception:  # a busy database or a broken reaper must not stop the cluster
            log.exception("reaper %s failed", path)


def reap_while(alive: Callable[[], bool], wait: Callable[[float], None]) -> None:
    interval = reap_interval()
    try:
        while alive():
            reap_once()
            wait(interval)
    finally:
        connections.close_all()
