"""django-q2's `qcluster`, with the job reapers run every few seconds by the cluster's own
parent process while the cluster runs (see jobs/watch.py)."""

from __future__ import annotations

import os

from django.conf import settings
from django_q.cluster import Cluster
from django_q.management.commands import qcluster

from jobs.watch import reap_while


class Command(qcluster.Command):
    def handle(self, *args, **options):
        if options.get("run_once"):
            return super().handle(*args, **options)
        settings.SECRET_KEY  # noqa: B018 -- the cluster signs its tasks: refuse to start without
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = options["cluster_name"]
        cluster = Cluster()
        cluster.start()
        # The parent only waits for the sentinel; it forks nothing after this point, so the
        # reapers' database connection is never shared with a worker.
        reap_while(lambda: cluster.sentinel is not None and cluster.sentinel.is_alive(),
                   wait=lambda seconds: cluster.sentinel.join(seconds))
