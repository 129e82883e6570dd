"""The export flow gives feedback (issue 20): expiry in an open tab, the new job in view, honest
job rows, the format picker, the code snippet (slow: live server, real worker, Chromium)."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import zipfile
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotations.formats import registry
from annotations.formats.options import ExportOptions
from api.services import token_create
from exports import links, services
from exports.models import ExportJob
from exports.services import job_file

from ..factories import dataset_with_boxes, stored_sample_image
from ..worker import ROOT
from .test_export_in_browser import choose_format, open_dataset, open_popup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_export(page, format_id: str = "coco", split: str | None = None) -> None:
    """Export from the popup (with that Train-Test Split, when given) and see it close."""
    dialog = open_popup(page)
    choose_format(page, format_id)
    if split is not None:
        page.get_by_label("Train-Test Split").fill(split)
    dialog.get_by_role("button", name="Export", exact=True).click()
    expect(dialog).to_have_count(0)


def export(page, format_id: str = "coco"):
    """Export from the popup and wait for the job to finish; returns its row and the job."""
    start_export(page, format_id)
    job = ExportJob.objects.order_by("-created_at").first()
    row = page.locator(f"#job-{job.pk}")
    expect(row.locator(".badge")).to_have_text("Finished", timeout=60000)
    return row, job


def test_a_link_that_expires_in_an_open_tab_turns_into_expired_and_says_why(page, worker, demo):
    open_dataset(page, demo)
    _, job = export(page)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() + timedelta(seconds=3))
    page.reload()  # a tab left open: nothing runs, so the list does not poll
    row = page.locator(f"#job-{job.pk}")
    expect(row.get_by_role("link", name="Download")).to_be_visible()
    assert page.locator("#current-jobs").get_attribute("data-polling") == "no"
    expect(row.locator(".badge")).to_have_text("Expired", timeout=10000)
    expect(row.get_by_role("link", name="Download")).to_have_count(0)
    expect(row.get_by_role("button", name="Export again")).to_be_visible()
    page.shots("expired-row")

    # The old link, opened in the browser: a page that says what happened and the way back.
    response = page.goto(links.signed_path(job))
    assert response.status == 410
    expect(page.get_by_role("heading", name="This export has expired")).to_be_visible()
    page.shots("expired-link-page")
    page.get_by_role("link", name=f"Back to {demo.name}").click()
    expect(page.locator(f"#job-{job.pk} .badge")).to_have_text("Expired")

    response = page.goto("/exports/link/not-a-link/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="This download link is not valid")).to_be_visible()
    page.shots("invalid-link-page")


def test_after_export_the_new_job_is_in_view_and_a_confirmation_stays(page, worker, demo):
    page.set_viewport_size({"width": 1366, "height": 850})
    open_dataset(page, demo)
    expect(page.locator("#current-jobs")).not_to_be_in_viewport()  # below the 12 images
    start_export(page, split="0.3")
    job = ExportJob.objects.get()
    row = page.locator(f"#job-{job.pk}")
    expect(row).to_be_in_viewport()
    expect(row).to_have_class(re.compile(r"\bjust-added\b"))
    toast = page.get_by_role("status").filter(has_text="Export queued")
    expect(toast).to_have_text(re.compile(r"^Export queued — COCO, 8 train / 4 test · Show"))
    page.shots("new-job-highlighted")

    page.mouse.wheel(0, -5000)  # wherever the user goes, the confirmation stays
    expect(row).not_to_be_in_viewport()
    expect(toast).to_be_in_viewport()
    expect(row.locator(".badge")).to_have_text("Finished", timeout=60000)
    expect(row).to_have_class(re.compile(r"\bjust-added\b"))  # kept when polling swaps the list
    toast.get_by_role("button", name="Show").click()
    expect(row).to_be_in_viewport()
    page.shots("show-again")


def test_job_rows_say_what_was_made_and_can_be_retried_removed_and_cleared(page, worker, demo):
    open_dataset(page, demo)
    # A running export shows its percentage and the time it has left (a row the worker never
    # sees: its progress is set here, ten seconds in and a quarter done).
    running = ExportJob.objects.create(owner=demo.owner, dataset=demo, format="coco",
                                       status="running", progress_done=3, progress_total=12,
                                       started_at=timezone.now() - timedelta(seconds=10))
    page.reload()
    row = page.locator(f"#job-{running.pk}")
    expect(row).to_contain_text("25%")
    expect(row.locator(".time-left")).to_have_text(re.compile(r"^about (29|30|3\d) s left$"))
    page.shots("running-eta")
    running.delete()

    start_export(page, split="0.25")
    finished = ExportJob.objects.get()
    row = page.locator(f"#job-{finished.pk}")
    expect(row.locator(".badge")).to_have_text("Finished", timeout=60000)
    finished.refresh_from_db()
    train, test = finished.counts["train"], finished.counts["test"]
    expect(row.locator(".sets")).to_have_text(
        f"train 9 images, {train['annotations']} annotations · "
        f"test 3 images, {test['annotations']} annotations")
    expect(row).to_contain_text("absolute · upload order · test 0.25 · 4 labels")
    expect(row).to_contain_text(re.compile(r"took \d+\.\d s · [\d.]+\sKB"))
    page.shots("finished-row")

    # Cancelled while queued (the worker is paused), then Retry with the same options.
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        dialog = open_popup(page)
        choose_format(page, "createml")
        page.get_by_role("checkbox", name="Shuffle").check()
        dialog.get_by_role("button", name="Export", exact=True).click()
        page.locator("#current-jobs .job.status-queued").get_by_role("button",
                                                                     name="Cancel").click()
        cancelled = page.locator("#current-jobs .job.status-cancelled")
        expect(cancelled).to_be_visible()
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    cancelled.get_by_role("button", name="Retry").click()
    retried = page.locator("#current-jobs .job").first
    expect(retried.locator(".badge")).to_have_text("Finished", timeout=60000)
    first, again = ExportJob.objects.filter(format="createml").order_by("created_at")
    assert again.options == first.options and again.status == "finished"
    page.shots("retried")

    # Remove one row, then clear every ended job: rows and files go.
    page.locator(f"#job-{first.pk}").get_by_role("button", name="Remove this job").click()
    expect(page.locator(f"#job-{first.pk}")).to_have_count(0)
    files = [job_file(j) for j in ExportJob.objects.filter(status="finished")]
    assert all(f.is_file() for f in files) and len(files) == 2
    page.get_by_role("button", name=re.compile("^Clear finished")).click()
    expect(page.locator("#current-jobs .job")).to_have_count(0)
    assert not ExportJob.objects.exists() and not any(f.exists() for f in files)

    # The latest 20, then "Show older".
    ExportJob.objects.bulk_create(ExportJob(owner=demo.owner, dataset=demo, format="coco",
                                            status="cancelled") for _ in range(23))
    page.reload()
    expect(page.locator("#current-jobs .job")).to_have_count(20)
    page.get_by_role("button", name="Show older").click()
    expect(page.locator("#current-jobs .job")).to_have_count(23)
    expect(page.get_by_role("button", name="Show older")).to_have_count(0)


def test_the_format_picker_shows_every_format_at_1280x720_and_folds_the_unavailable(
        page, owner, demo):
    page.set_viewport_size({"width": 1280, "height": 720})
    open_dataset(page, demo)
    open_popup(page)
    specs = registry.available_formats()  # the demo has every family
    for spec in specs:
        option = page.locator(".format-option").filter(
            has=page.locator(f'input[value="{spec.id}"]'))
        expect(option).to_be_in_viewport(ratio=1)
        expect(option).to_contain_text(spec.name)
    assert page.evaluate("document.querySelector('#export-dialog .modal-body').scrollTop") == 0
    expect(page.get_by_role("button", name="Export", exact=True)).to_be_in_viewport()
    choose_format(page, "coco")
    selected = page.locator("#export-preview .selected-format")
    expect(selected).to_contain_text("COCO")
    expect(selected).to_contain_text(re.compile(r"\d+ polygons written as boxes"))
    page.shots("picker-1280x720")

    page.get_by_label("Filter formats").fill("yolo")
    yolo = [s for s in specs if "yolo" in f"{s.id} {s.name} {s.description}".lower()]
    expect(page.locator(".format-option:visible")).to_have_count(len(yolo))
    page.keyboard.press("Enter")  # filtering never submits
    expect(page.locator("#export-dialog")).to_be_visible()
    page.shots("picker-filtered")

    boxes_only = dataset_with_boxes(owner, 3, file=stored_sample_image())
    page.keyboard.press("Escape")
    page.goto(f"/datasets/{boxes_only.pk}/")
    open_popup(page)
    folded = page.locator(".unavailable")
    expect(folded.locator("summary")).to_contain_text("Not available for this dataset")
    expect(folded.locator(".format-option").first).to_be_hidden()
    folded.locator("summary").click()
    expect(folded).to_contain_text("This dataset has no keypoints to export.")
    page.shots("picker-unavailable")


def test_use_in_code_shows_two_lines_that_work_as_shown(page, worker, demo, tmp_path):
    options = ExportOptions(shuffle=True, seed=7, split_ratio=0.25, valid_ratio=0.25,
                            split_mode="stratified", annotated_only=True,
                            labels=("car", "person"), rename={"car": "vehicle"})
    job, _ = services.export_job_create(owner=demo.owner, dataset=demo, format_id="yolo_darknet",
                                        options=options)
    open_dataset(page, demo)
    row = page.locator(f"#job-{job.pk}")
    expect(row.locator(".badge")).to_have_text("Finished", timeout=60000)
    row.get_by_text("Use in code").click()
    snippet = row.locator(".snippet pre")
    expect(snippet).to_be_visible()
    page.shots("use-in-code")
    curl, client = snippet.inner_text().strip().split("\n")
    assert curl.startswith("curl -L -o export.zip ") and " -m api.client " in client

    job.refresh_from_db()
    env = {**os.environ, "NEXUS_TOKEN": token_create(owner=demo.owner, name="snippet")[1],
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    for line in (curl, client):
        done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert hashlib.sha256((tmp_path / "export.zip").read_bytes()).hexdigest() == job.sha256
    again = ExportJob.objects.exclude(pk=job.pk).get()
    assert again.options == job.options and again.counts == job.counts
    with zipfile.ZipFile(tmp_path / "export.zip") as archive:  # same contents, file by file
        top = job.file_name[:-4] + "/"
        expected = {n[len(top):]: archive.read(n) for n in archive.namelist()
                    if not n.endswith("/") and not n.endswith("manifest.json")}
    folder = tmp_path / "data"
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and p.name != "manifest.json"} == expected
    assert "vehicle" in (folder / "data.yaml").read_text()


def test_small_things_one_line_button_zip_dates_and_no_float_noise_clamps(
        page, worker, demo, tmp_path):
    page.set_viewport_size({"width": 1366, "height": 850})
    open_dataset(page, demo)
    page.goto("/")
    lines = page.get_by_role("button", name="Create dataset").evaluate(
        """(b) => { const r = document.createRange(); r.selectNodeContents(b);
                    return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }""")
    assert lines == 1, f"'Create dataset' is on {lines} lines at 1366 px"
    page.shots("datasets-1366")

    # Zip entries carry the job's creation time (UTC), not 1980-01-01.
    page.goto(f"/datasets/{demo.pk}/")
    row, job = export(page, "createml")
    with page.expect_download() as download:
        row.get_by_role("link", name="Download").click()
    stamp = job.created_at.astimezone(UTC)
    when = (*stamp.timetuple()[:5], stamp.second // 2 * 2)
    with zipfile.ZipFile(download.value.path()) as archive:
        assert {info.date_time for info in archive.infolist()} == {when}

    # The import preview reports only fixes that change a printed value.
    csv = tmp_path / "boxes.csv"
    csv.write_text("filename,label,xmin,ymin,xmax,ymax\n"
                   "scene_00.jpg,car,188,176,235,480.0000001\n"  # float noise at the edge
                   "scene_01.jpg,car,700,10,850,50\n")  # over the edge of an 800 px image
    page.get_by_role("link", name="Upload Annotations", exact=True).click()
    page.set_input_files("#id_files", str(csv))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/imports/**")
    report = page.locator(".import-report")
    expect(report).to_contain_text("1 box clamped to the image", timeout=30000)
    expect(report).not_to_contain_text("[188, 176, 235, 480]")
    page.shots("import-preview")


def test_bin_start_says_running_only_once_the_server_answers(browser, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "NEXUS_VAR_DIR": str(tmp_path / "var"), "NEXUS_PORT": str(port),
           "DJANGO_SETTINGS_MODULE": "nexus.settings.dev"}
    env.pop("DATABASE_URL", None)
    start = subprocess.Popen([str(ROOT / "bin" / "start")], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        for line in start.stdout:
            if line.startswith("Nexus is running"):
                break
        else:
            pytest.fail(f"bin/start ended ({start.wait()}) without saying it runs")
        page = browser.new_page()  # at once, as a person clicking the printed address
        response = page.goto(f"http://127.0.0.1:{port}/accounts/login/", timeout=2000)
        assert response.status == 200
        page.close()
    finally:
        os.killpg(start.pid, signal.SIGINT)
        try:
            start.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(start.pid, signal.SIGKILL)
