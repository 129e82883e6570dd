"""A person in Chromium uploads images (picker and drag and drop) and annotations, reviews the
preview and imports it, watching Current Jobs (slow: a live server and a real worker)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from datasets.models import Dataset

from ..uploads.conftest import image_bytes, make_zip
from .conftest import log_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-owner-123"


def test_uploading_images_and_annotations_in_the_browser(page, worker, owner, tmp_path):
    street, plaza = tmp_path / "street.jpg", tmp_path / "plaza.png"
    street.write_bytes(image_bytes("street.jpg", 640, 480))
    plaza.write_bytes(image_bytes("plaza.png", 320, 240, (20, 20, 20)))
    log_in(page, "owner", PASSWORD)
    page.get_by_label("New dataset name").fill("Harbour")  # on the datasets homepage
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Harbour")).to_be_visible()
    page.shots("dataset-created")
    dataset = Dataset.objects.get(owner=owner, name="Harbour")
    page.get_by_role("link", name="Upload Images", exact=True).click()
    page.wait_for_url("**/images/upload/")
    page.set_input_files("#id_files", [str(street), str(plaza)])
    expect(page.locator(".chosen")).to_have_text("2 files chosen")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-report")).to_contain_text("2 stored · 0 duplicates")
    expect(page.locator(".upload-progress")).to_have_attribute("value", "100")
    page.shots("images-uploaded")

    more = make_zip({"pics/quay.jpg": image_bytes("quay.jpg", 200, 100, (9, 90, 9))})
    transfer = page.evaluate_handle(
        """(bytes) => { const dt = new DataTransfer();
             dt.items.add(new File([new Uint8Array(bytes)], 'more.zip',
                                   {type: 'application/zip'}));
             return dt; }""", list(more))
    page.dispatch_event(".drop-zone", "drop", {"dataTransfer": transfer})
    expect(page.locator(".chosen")).to_have_text("more.zip")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator(".upload-report")).to_contain_text("1 stored")
    page.shots("zip-dropped")

    csv = tmp_path / "boxes.csv"
    csv.write_text("filename,label,xmin,ymin,xmax,ymax\nstreet.jpg,boat,10,20,110,220\n"
                   "quay.jpg,boat,0,0,250,50\n")
    page.goto(f"/datasets/{dataset.pk}/")
    page.get_by_role("link", name="Upload Annotations", exact=True).click()
    page.wait_for_url("**/annotations/upload/")
    page.set_input_files("#id_files", str(csv))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/imports/**")
    expect(page.locator(".import-status .badge")).to_have_text("Ready to review")
    expect(page.locator(".import-report")).to_contain_text("1 box clamped to the image")
    page.shots("preview")
    page.get_by_role("button", name="Import 2 annotations").click()
    page.wait_for_url(f"**/datasets/{dataset.pk}/#current-jobs")
    row = page.locator("#current-jobs .import-job").first
    expect(row.locator(".badge")).to_have_text("Imported", timeout=60000)
    page.shots("imported")
    page.reload()
    expect(page.locator(".thumb svg rect.shape")).to_have_count(2)
