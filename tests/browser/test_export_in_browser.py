"""A person in Chromium: log in, browse, export through the popup, watch, download (slow)."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import urllib.request
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from playwright.sync_api import expect

from exports.models import ExportJob

from ..factories import dataset_with_boxes, stored_sample_image
from .conftest import log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-owner-123"


def open_dataset(page, dataset) -> None:
    log_in(page, "owner", PASSWORD)
    page.shots("datasets-home")
    page.get_by_role("link", name=dataset.name).click()
    expect(page.get_by_role("heading", name=dataset.name)).to_be_visible()


def choose_format(page, format_id: str) -> None:
    page.locator(f'#export-dialog input[name="format"][value="{format_id}"]').check()


def open_popup(page):
    page.get_by_role("button", name="Export Annotations").click()
    dialog = page.locator("#export-dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_export_from_the_popup_to_a_downloaded_zip(page, worker, demo):
    open_dataset(page, demo)
    expect(page.locator(".thumb")).to_have_count(12)
    assert page.locator(".thumb svg rect.shape").count() > 10
    assert page.locator(".thumb svg polygon").count() > 5
    assert page.locator(".thumb svg circle.joint").count() > 5
    page.shots("annotations-tab")

    dialog = open_popup(page)
    normalized = page.locator("#id_normalized")
    warning = page.locator("#normalized-warning")
    choose_format(page, "coco")
    expect(normalized).not_to_be_checked()
    choose_format(page, "yolo_darknet")
    expect(normalized).to_be_checked()  # the format's convention
    expect(warning).to_be_hidden()
    normalized.uncheck()
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("YOLO readers expect normalized coordinates")
    page.shots("popup-warning")
    normalized.check()
    expect(warning).to_be_hidden()
    page.get_by_role("checkbox", name="Shuffle").check()
    page.get_by_label("Train-Test Split").fill("0.25")
    expect(page.locator("#split-counts")).to_have_text("9 train / 0 valid / 3 test")
    page.shots("popup-filled")

    dialog.get_by_role("button", name="Export", exact=True).click()
    expect(dialog).to_have_count(0)
    job_row = page.locator("#current-jobs .job").first
    expect(job_row).to_be_visible(timeout=1000)
    expect(job_row.locator(".badge")).to_have_text("Finished", timeout=60000)
    page.shots("finished")
    with page.expect_download() as download_info:
        job_row.get_by_role("link", name="Download").click()
    data = open(download_info.value.path(), "rb").read()
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    top = names[0].split("/")[0]
    assert f"{top}/data.yaml" in names and f"{top}/train/classes.txt" in names
    assert sum(1 for n in names if "/test/labels/" in n) == 3
    assert sum(1 for n in names if "/train/labels/" in n) == 9
    job = ExportJob.objects.get()
    assert job.format == "yolo_darknet"
    assert (job.options["normalized"], job.options["shuffle"], job.options["split_ratio"]) == \
        (True, True, 0.25)
    assert hashlib.sha256(data).hexdigest() == job.sha256


def test_the_progress_bar_moves_and_finished_appears_without_a_reload(page, worker, owner):
    # Several seconds of work (LabelMe writes one JSON per image), so polls of the jobs list
    # catch it part way.
    dataset = dataset_with_boxes(owner, 8000, file=stored_sample_image(), size=(320, 240),
                                 boxes_per_image=20)
    open_dataset(page, dataset)
    open_popup(page)
    choose_format(page, "polygon_single")
    page.locator("#export-dialog").get_by_role("button", name="Export", exact=True).click()
    read = """() => {  // read in one go: the jobs list is swapped under us every second
        const bar = document.querySelector('#current-jobs progress');
        const badge = document.querySelector('#current-jobs .job .badge');
        return [bar ? Number(bar.value) : null, badge ? badge.textContent.trim() : null];
    }"""
    seen = set()
    for _ in range(600):
        value, status = page.evaluate(read)
        if status == "Finished":
            break
        if value is not None and value not in seen:
            seen.add(value)
            if 0 < value < 100:
                page.shots(f"progress-{value}")
        page.wait_for_timeout(100)
    expect(page.locator("#current-jobs .job .badge").first).to_have_text("Finished",
                                                                        timeout=60000)
    moving = sorted(v for v in seen if 0 < v < 100)
    assert moving, f"progress values seen: {sorted(seen)}"  # part way, between polls
    page.shots("finished")


def test_copy_link_cancel_errors_and_export_again(page, worker, demo):
    open_dataset(page, demo)
    open_popup(page)
    choose_format(page, "coco")
    page.locator("#export-dialog").get_by_role("button", name="Export", exact=True).click()
    row = page.locator("#current-jobs .job").first
    expect(row.locator(".badge")).to_have_text("Finished", timeout=60000)

    # Copy link, then fetch it without any cookie, as curl on a training machine would.
    row.get_by_role("button", name="Copy link").click()
    expect(row.get_by_role("button", name="Link copied")).to_be_visible()
    link = page.evaluate("navigator.clipboard.readText()")
    data = urllib.request.urlopen(link, timeout=30).read()
    job = ExportJob.objects.get()
    assert hashlib.sha256(data).hexdigest() == job.sha256

    # An expired job says so and offers "Export again", which works.
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    page.reload()
    expired = page.locator(f"#job-{job.pk}")
    expect(expired).to_contain_text("Expired")
    page.shots("expired")
    expired.get_by_role("button", name="Export again").click()
    expect(page.locator("#current-jobs .job")).to_have_count(2)
    again = page.locator("#current-jobs .job").first
    expect(again.locator(".badge")).to_have_text("Finished", timeout=60000)
    assert ExportJob.objects.filter(status="finished", format="coco").count() == 2

    # An errored job shows its reason: the stored image file vanished.
    image = demo.images.first()
    default_storage.delete(image.file.name)
    open_popup(page)
    choose_format(page, "createml")
    page.locator("#export-dialog").get_by_role("button", name="Export", exact=True).click()
    errored = page.locator("#current-jobs .job.status-errored")
    expect(errored).to_be_visible(timeout=60000)
    expect(errored).to_contain_text("A storage error stopped the export")
    page.shots("errored")

    # A cancelled job: cancelled while it is still queued (the worker is stopped for that).
    os.killpg(worker.pid, signal.SIGSTOP)  # the queue does not move while we click
    try:
        open_popup(page)
        choose_format(page, "csv_fourcorner")
        page.locator("#export-dialog").get_by_role("button", name="Export", exact=True).click()
        queued = page.locator("#current-jobs .job.status-queued")
        expect(queued).to_be_visible()
        queued.get_by_role("button", name="Cancel").click()
        expect(page.locator("#current-jobs .job.status-cancelled")).to_be_visible()
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    page.shots("cancelled")


def test_the_popup_works_with_the_keyboard_alone(page, demo):
    open_dataset(page, demo)
    button = page.get_by_role("button", name="Export Annotations")
    button.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#export-dialog")
    expect(dialog).to_be_visible()
    for _ in range(25):  # focus never leaves the open dialog
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('export-dialog').contains("
                             "document.activeElement) || document.activeElement === document.body")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll(
        '#export-dialog input, #export-dialog select, #export-dialog button')]
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.textContent.trim())
        .map(el => el.outerHTML)""")
    assert unlabeled == []
    page.shots("keyboard-popup")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)


def test_narrow_windows_do_not_scroll_sideways_and_pages_read_without_javascript(
        browser, live_server, demo):
    for options in ({"viewport": {"width": 390, "height": 844}},
                    {"viewport": {"width": 1280, "height": 800}, "java_script_enabled": False}):
        context = browser.new_context(base_url=live_server.url, **options)
        page = context.new_page()
        log_in(page, "owner", PASSWORD)
        page.goto(f"/datasets/{demo.pk}/")
        assert page.locator(".thumb").count() == 12
        overflow = page.evaluate("document.documentElement.scrollWidth - "
                                 "document.documentElement.clientWidth")
        assert overflow <= 0, f"{options}: {overflow}px of horizontal scrolling"
        context.close()
