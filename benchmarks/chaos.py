"""Chaos run: exports queued, a real qcluster SIGKILLed again and again (the whole process group,
and single workers), restarted, then drained. Prints the figures of issue 18's closing note.

    .venv/bin/python benchmarks/chaos.py                                # default staleness (120 s)
    NEXUS_HEARTBEAT_STALE_SECONDS=15 .venv/bin/python benchmarks/chaos.py
    .venv/bin/python benchmarks/chaos.py --jobs 24 --kills 6 --images 3000

A throwaway site (its own SQLite database under /tmp), one user, one dataset of --images images
(3 boxes each, images included) and --jobs exports in 6 box formats, 2 workers, the per-user
limit of 2. Kills alternate: the cluster's whole process group (then a restart at once), and one
worker running an export (the cluster forks another). Nothing is reaped by this script: only the
clusters' own reapers recover. Figures: jobs, kills, finished exactly once (finished, one zip
left under the job, the recorded attempt's, and it reads back), errored, stuck (not ended by
--timeout), max attempts, put-off runs (tasks that found the owner at the limit), duplicate
deliveries (tasks that found their job already taken: harmless, and counted), time to drain
(from the last kill to the last job ended) and the work of the whole run (the seconds of the attempts
that finished, divided by the 2 workers).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import sqlite3
import time
import zipfile
from datetime import datetime

from harness import Site, queue_exports, set_up, wait_for

FORMATS = ["coco", "yolo_darknet", "pascal_voc", "csv_fourcorner", "createml",
           "yolo_keras_pytorch"]


class Rows:
    """Read-only looks at the site's database, without starting Django."""

    def __init__(self, site: Site) -> None:
        self.path = site.var / "nexus.sqlite3"

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql).fetchall()

    def statuses(self) -> list[str]:
        return [s for (s,) in self.query("SELECT status FROM exports_exportjob")]

    def running_workers(self) -> list[str]:
        return [w for (w,) in self.query("SELECT worker FROM exports_exportjob "
                                         "WHERE status = 'running' AND progress_done > 0")]


def ended(rows: Rows) -> bool:
    return all(s in ("finished", "errored", "cancelled") for s in rows.statuses())


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def check_files(site: Site, rows: Rows) -> tuple[int, int]:
    """(finished exactly once, finished jobs)."""
    once = finished = 0
    for (path,) in rows.query("SELECT file_path FROM exports_exportjob "
                               "WHERE status = 'finished'"):
        finished += 1
        job_id = path.split("/")[0]
        zips = sorted((site.var / "exports" / job_id).rglob("*.zip"))
        if zips == [site.var / "exports" / path]:
            with zipfile.ZipFile(zips[0]) as archive:
                once += archive.testzip() is None
    return once, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    chance = random.Random(args.seed)
    stale = int(os.environ.get("NEXUS_HEARTBEAT_STALE_SECONDS", "120"))
    site = Site(NEXUS_WORKERS="2", NEXUS_HEARTBEAT_STALE_SECONDS=str(stale))
    rows = Rows(site)
    try:
        dataset, _ = set_up(site, args.images)
        per_format = -(-args.jobs // len(FORMATS))
        for index, format_id in enumerate(FORMATS):
            count = min(per_format, args.jobs - index * per_format)
            if count > 0:
                queue_exports(site, dataset, count, first=100 * index, format_id=format_id)
        started = time.monotonic()
        cluster = site.qcluster()
        kills = {"process group": 0, "one worker": 0}
        for number in range(args.kills):
            workers = wait_for(rows.running_workers, timeout=120, interval=0.1)
            if not workers:
                break
            if number % 2 == 0:
                time.sleep(chance.uniform(0.2, 1.5))
                site.kill(cluster)
                kills["process group"] += 1
                cluster = site.qcluster()
            else:
                try:
                    os.kill(int(chance.choice(workers).rsplit(":", 1)[1]), signal.SIGKILL)
                    kills["one worker"] += 1
                except ProcessLookupError:  # that export ended meanwhile
                    pass
            time.sleep(1)
        last_kill = time.monotonic()
        drained = wait_for(lambda: ended(rows), timeout=args.timeout, interval=0.5)
        drain = time.monotonic() - last_kill
        time.sleep(min(60, stale / 4) + 2)  # one more reap: the sweep of orphan attempts
        statuses = rows.statuses()
        once, finished = check_files(site, rows)
        tasks = [(base64.b64decode(r or ""), seconds(a, b)) for r, a, b in rows.query(
            "SELECT result, started, stopped FROM django_q_task "
            "WHERE func = 'exports.tasks.run_export'")]
        results = [r for r, _ in tasks]
        work = sum(took for r, took in tasks if b"finished" in r)
        figures = {
            "staleness_s": stale, "jobs": len(statuses), "kills": kills,
            "finished": finished, "finished_exactly_once": once,
            "errored": statuses.count("errored"),
            "stuck": 0 if drained else sum(s in ("queued", "running") for s in statuses),
            "max_attempts": rows.query("SELECT MAX(attempts) FROM exports_exportjob")[0][0],
            "put_off_runs": sum(b"deferred" in r for r in results),
            "duplicate_deliveries": sum(b"not claimed" in r for r in results),
            "time_to_drain_s": round(drain, 1) if drained else None,
            "work_s": round(work / 2, 1),  # every final attempt, over the 2 workers
            "total_s": round(time.monotonic() - started, 1),
        }
        print(json.dumps(figures, indent=2))
    finally:
        site.stop_all()


if __name__ == "__main__":
    main()
