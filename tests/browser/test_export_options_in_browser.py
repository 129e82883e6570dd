"""The popup's Advanced options in Chromium: a validation share, a deselected label and a rename,
shown live in the counts and the what-will-be-written table, through to a downloaded zip (slow)."""

from __future__ import annotations

import io
import zipfile

import pytest
from playwright.sync_api import expect

from exports.models import ExportJob

from .test_export_in_browser import choose_format, open_dataset, open_popup

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_validation_share_and_label_choices_reach_the_downloaded_zip(page, worker, demo):
    open_dataset(page, demo)
    dialog = open_popup(page)
    choose_format(page, "yolo_darknet")
    page.get_by_label("Train-Test Split").fill("0.25")
    dialog.locator("summary", has_text="Advanced").click()
    page.get_by_label("Validation share").fill("0.25")
    expect(page.locator("#split-counts")).to_have_text("6 train / 3 valid / 3 test")

    labels = dialog.locator("#export-labels-list")
    expect(labels.locator('input[name="labels"][value="puddle"]')).to_be_checked()
    labels.locator('input[name="labels"][value="puddle"]').uncheck()
    labels.get_by_label("New name for car").fill("vehicle")
    preview = dialog.locator("#export-preview")
    expect(preview).to_contain_text("vehicle")
    expect(preview).to_contain_text("valid")
    page.shots("advanced-options")

    dialog.get_by_role("button", name="Export", exact=True).click()
    expect(dialog).to_have_count(0)
    job_row = page.locator("#current-jobs .job").first
    expect(job_row.locator(".badge")).to_have_text("Finished", timeout=60000)
    with page.expect_download() as download_info:
        job_row.get_by_role("link", name="Download").click()
    archive = zipfile.ZipFile(io.BytesIO(open(download_info.value.path(), "rb").read()))
    names = archive.namelist()
    top = names[0].split("/")[0]
    data_yaml = archive.read(f"{top}/data.yaml").decode()
    assert "val: valid/images\n" in data_yaml and "test: test/images\n" in data_yaml
    assert sum(1 for n in names if "/valid/labels/" in n) == 3
    classes = archive.read(f"{top}/valid/classes.txt").decode().splitlines()
    assert "vehicle" in classes and "car" not in classes and "puddle" not in classes
    job = ExportJob.objects.get()
    assert job.options["valid_ratio"] == 0.25 and job.options["rename"] == {"car": "vehicle"}
    assert "puddle" not in job.options["labels"]
