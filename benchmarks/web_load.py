"""Web latency under load while exports run: Current Jobs and the dataset page, as bin/start
serves them (gunicorn, 2 processes x 8 threads, whitenoise) or under `runserver`.

    .venv/bin/python benchmarks/web_load.py                       # gunicorn, 16 and 32 threads
    .venv/bin/python benchmarks/web_load.py --server runserver    # the former default
    .venv/bin/python benchmarks/web_load.py --threads 16 --requests 400

A throwaway site (its own database under /tmp) with one dataset of --images images (3 boxes
each, images included in the exports), a real qcluster running --exports COCO exports through
each measurement, and --requests GETs spread over the client threads, half to Current Jobs
(`/datasets/<id>/jobs/`), half to the dataset page. Prints p50/p95/p99/max in milliseconds, the
errors, and the exports finished while it ran.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from harness import PYTHON, ROOT, Site, queue_exports, set_up, wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def web_command(server: str, port: int) -> list[str]:
    if server == "runserver":
        return [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    return [str(ROOT / ".venv" / "bin" / "gunicorn"), "nexus.wsgi", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "8", "--timeout", "120"]


def get(url: str, session: str) -> tuple[float, int]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0
    return (time.perf_counter() - started) * 1000, status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def finished_exports(site: Site) -> int:
    code = ("from exports.models import ExportJob; "
            "print(ExportJob.objects.filter(status='finished').count())")
    return int(site.shell(code).split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", choices=["gunicorn", "runserver"], default="gunicorn")
    parser.add_argument("--threads", default="16,32")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--exports", type=int, default=4)
    args = parser.parse_args()
    site = Site()
    try:
        dataset, session = set_up(site, args.images)
        port = free_port()
        site.qcluster()
        site.start(*web_command(args.server, port), log="web.log")
        base = f"http://127.0.0.1:{port}"
        if not wait_for(lambda: get(f"{base}/accounts/login/", "")[1] == 200, timeout=60):
            raise SystemExit(f"the web server did not answer; see {site.var}/web.log")
        urls = [f"{base}/datasets/{dataset}/jobs/", f"{base}/datasets/{dataset}/"]
        results = {"server": args.server, "requests": args.requests, "images": args.images}
        for round_number, threads in enumerate(int(t) for t in args.threads.split(",")):
            before = finished_exports(site)
            queue_exports(site, dataset, args.exports, first=100 * round_number)
            time.sleep(2)  # the workers have taken the first exports
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                timings = list(pool.map(lambda i: get(urls[i % 2], session),
                                        range(args.requests)))
            wall = time.perf_counter() - started
            times = [ms for ms, _ in timings]
            results[f"{threads} threads"] = {
                "p50_ms": percentile(times, 0.50), "p95_ms": percentile(times, 0.95),
                "p99_ms": percentile(times, 0.99), "max_ms": round(max(times), 1),
                "mean_ms": round(statistics.mean(times), 1),
                "errors": sum(1 for _, status in timings if status != 200),
                "wall_s": round(wall, 2), "requests_per_s": round(args.requests / wall, 1),
                "exports_finished_meanwhile": finished_exports(site) - before,
            }
            print(json.dumps({threads: results[f"{threads} threads"]}), flush=True)
        print(json.dumps(results, indent=2))
    finally:
        site.stop_all()


if __name__ == "__main__":
    main()
