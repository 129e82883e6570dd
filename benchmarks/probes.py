"""In-process probes run by run.py in their own process against a benchmark database.

    .venv/bin/python benchmarks/probes.py web <out dir>      Current Jobs with 200 jobs, and the
                                                             Annotations tab's first page
    .venv/bin/python benchmarks/probes.py import <coco.json> the COCO reader (parse + validate)
    .venv/bin/python benchmarks/probes.py splits <out dir>   a stratified split of 100k images x
                                                             80 classes, and the export popup's
                                                             preview of bench-boxes

Each prints one JSON object: medians in milliseconds (web) or seconds (import).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _median_ms(call, repeat: int = 15) -> float:
    call()  # warm: template loading, first connection
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def web(out: Path) -> dict:
    os.environ["NEXUS_ALLOWED_HOSTS"] = "testserver"
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import setup_django

    setup_django(out)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    from datasets.models import Dataset
    from exports.models import ExportJob

    user = get_user_model().objects.get(username="bench")
    dataset = Dataset.objects.get(owner=user, name="bench-boxes")
    jobs = ExportJob.objects.filter(dataset=dataset)
    missing = 200 - jobs.count()
    if missing > 0:  # finished, queued and running jobs, as a busy dataset has
        statuses = ["finished"] * 6 + ["queued", "running", "errored", "cancelled"]
        ExportJob.objects.bulk_create(
            ExportJob(owner=user, dataset=dataset, format="coco", status=statuses[i % 10],
                      progress_total=100, progress_done=i % 100, file_size=1234,
                      file_path="x/y.zip", file_name="y.zip")
            for i in range(missing))
    client = Client()
    client.force_login(user)
    images = dataset.images.count()
    jobs_url = f"/datasets/{dataset.pk}/jobs/"
    tab_url = f"/datasets/{dataset.pk}/annotations/"  # the tab's partial (HTMX)
    page_url = f"/datasets/{dataset.pk}/"  # the dataset page: a shell that loads the tab

    def get(url: str, **headers):
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)

    return {
        "jobs": ExportJob.objects.filter(dataset=dataset).count(), "images": images,
        "current_jobs_ms": _median_ms(lambda: get(jobs_url, HTTP_HX_REQUEST="true")),
        "annotations_tab_ms": _median_ms(lambda: get(tab_url, HTTP_HX_REQUEST="true")),
        "dataset_page_ms": _median_ms(lambda: get(page_url)),
    }


def import_coco(path: Path) -> dict:
    """Parse and validate with the formats library's COCO reader (what an import runs first)."""
    sys.path.insert(0, str(ROOT))
    from annotations.formats.families.coco_reader import read_coco
    from annotations.formats.io.source import FolderSource
    from annotations.formats.spec import ReadContext

    source = FolderSource(path.parent)
    started = time.perf_counter()
    result = read_coco(source, ReadContext(), "boxes")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "images": len(result.images),
            "annotations": sum(len(i.annotations) for i in result.images)}


def splits(out: Path) -> dict:
    """The stratified split alone (synthetic: 100k images, 1-3 of 80 classes each, skewed), then
    the preview table the popup asks for on the benchmark's box dataset (milliseconds)."""
    import random

    sys.path.insert(0, str(ROOT))
    from annotations.formats.splits import stratified_split

    rng = random.Random(0)
    weights = [1 / (c + 1) for c in range(80)]
    classes = [tuple(sorted(set(rng.choices(range(80), weights, k=rng.randint(1, 3)))))
               for _ in range(100_000)]
    ids = list(range(100_000))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        stratified_split(ids, classes, 7, 0.2, 0.1)
        times.append(time.perf_counter() - started)
    figures = {"stratified_100k_x80_s": round(statistics.median(times), 3)}
    if not (out / "db.sqlite3").exists() and not any(out.glob("*.sqlite3")):
        return figures
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate import setup_django

    setup_django(out)
    from annotations.formats import registry
    from annotations.formats.options import ExportOptions
    from datasets.models import Dataset
    from exports.preview import export_preview

    dataset = Dataset.objects.get(owner__username="bench", name="bench-boxes")
    spec = registry.get_spec("coco")
    figures["preview_images"] = dataset.images.count()
    for mode in ("random", "stratified"):
        options = ExportOptions(seed=1, split_ratio=0.2, valid_ratio=0.1, split_mode=mode)
        figures[f"preview_{mode}_ms"] = _median_ms(
            lambda options=options: export_preview(dataset, spec, options), repeat=5)
    return figures


if __name__ == "__main__":
    what, where = sys.argv[1], Path(sys.argv[2]).resolve()
    probes = {"web": web, "import": import_coco, "splits": splits}
    print(json.dumps(probes[what](where)))
