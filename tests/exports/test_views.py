"""The export popup, job creation, Current Jobs and downloads, through HTTP like a browser."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from exports import links, tasks
from exports.models import ExportJob

from ..conftest import read_zip

HX = {"HTTP_HX_REQUEST": "true"}


def create(client, dataset, **data):
    payload = {"format": "yolo_darknet", "normalized": "on", "split_ratio": "0.3",
               "include_images": "on"}
    payload.update(data)
    return client.post(reverse("exports:create", args=[dataset.pk]), payload, **HX)


def test_the_dataset_page_shows_the_annotations_tab_and_the_export_button(owner_client, demo):
    page = owner_client.get(reverse("datasets:detail", args=[demo.pk])).content.decode()
    assert "Export Annotations" in page and "Current Jobs" in page
    assert page.count('class="thumb"') == 12  # in the first response: it reads without JS
    assert "traffic light" in page and "<polygon" in page and "<circle" in page
    # Each panel is also its own app's partial, which HTMX refreshes.
    tab = owner_client.get(reverse("annotations:tab", args=[demo.pk]), **HX).content.decode()
    assert tab.count('class="thumb"') == 12 and "Current Jobs" not in tab
    jobs = owner_client.get(reverse("exports:jobs", args=[demo.pk]), **HX).content.decode()
    assert "Current Jobs" in jobs and 'class="thumb"' not in jobs


def test_the_tab_opened_as_a_page_is_the_dataset_page_at_that_page(owner_client, demo):
    response = owner_client.get(reverse("annotations:tab", args=[demo.pk]) + "?page=2")
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[demo.pk]) + "?page=2"
    assert owner_client.get(response["Location"]).status_code == 200


def test_the_popup_offers_every_family_and_disables_formats_with_nothing_to_export(
        owner_client, demo):
    demo.images.first().annotations.filter(kind="tag").delete()
    from annotations.models import Annotation
    Annotation.objects.filter(image__dataset=demo, kind="tag").delete()
    popup = owner_client.get(reverse("exports:create", args=[demo.pk]), **HX).content.decode()
    assert '<dialog class="modal" id="export-dialog"' in popup
    assert 'name="split_ratio" min="0" max="1" step="0.05"' in popup
    assert 'value="yolo_darknet" data-normalized="on"' in popup
    assert 'value="coco" data-normalized="off"' in popup
    assert "This dataset has no classification to export." in popup
    assert "12 train / 0 valid / 0 test" in popup


def test_export_creates_a_queued_job_and_shows_it_in_current_jobs(owner_client, demo):
    response = create(owner_client, demo)
    assert response.status_code == 200
    job = ExportJob.objects.get()
    assert json.loads(response["HX-Trigger-After-Settle"]) == {"export-created": {
        "job": f"job-{job.pk}", "message": "Export queued — YOLO Darknet, 8 train / 4 test"}}
    assert (job.status, job.format, job.options["normalized"], job.options["split_ratio"]) == \
        ("queued", "yolo_darknet", True, 0.3)
    html = response.content.decode()
    assert f'id="job-{job.pk}"' in html and "Queued" in html
    assert 'hx-trigger="every 1s"' in html  # polls while a job is active


def test_a_second_identical_click_returns_the_same_job(owner_client, demo):
    create(owner_client, demo)
    create(owner_client, demo)
    assert ExportJob.objects.count() == 1
    create(owner_client, demo, split_ratio="0.5")
    assert ExportJob.objects.count() == 2


@pytest.mark.parametrize("data,message", [
    ({"split_ratio": "1.5"}, "Train-test split must be between 0 and 1, got 1.5."),
    ({"split_ratio": "abc"}, "Train-test split must be a number, got &#x27;abc&#x27;."),
    ({"format": "nope"}, "Unknown export format &#x27;nope&#x27;."),
    ({"seed": "x1"}, "Seed must be a whole number, got &#x27;x1&#x27;."),
])
def test_invalid_options_are_refused_in_the_popup(owner_client, demo, data, message):
    response = create(owner_client, demo, **data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert response["HX-Retarget"] == "#modal"
    assert not ExportJob.objects.exists()


def test_the_jobs_partial_stops_polling_when_no_job_is_active(owner_client, demo):
    create(owner_client, demo)
    job = ExportJob.objects.get()
    tasks.run_export(str(job.pk))
    html = owner_client.get(reverse("exports:jobs", args=[demo.pk]), **HX).content.decode()
    assert "hx-trigger" not in html
    assert "Finished" in html and "Download" in html and "expires in" in html


def test_the_owner_downloads_the_finished_zip(owner_client, demo):
    create(owner_client, demo)
    job = ExportJob.objects.get()
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    response = owner_client.get(reverse("exports:download", args=[job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Cache-Control"] == "private, no-store"
    members = read_zip(b"".join(response.streaming_content))
    assert f"{job.file_name[:-4]}/manifest.json" in members


def test_another_user_gets_404_everywhere(stranger_client, demo):
    job = ExportJob.objects.create(owner=demo.owner, dataset=demo, format="coco")
    urls = [reverse("datasets:detail", args=[demo.pk]), reverse("exports:jobs", args=[demo.pk]),
            reverse("exports:create", args=[demo.pk]),
            reverse("exports:download", args=[job.pk]),
            reverse("annotations:tab", args=[demo.pk]),
            reverse("datasets:image_file", args=[demo.images.first().pk])]
    for url in urls:
        assert stranger_client.get(url).status_code == 404, url
    assert create(stranger_client, demo).status_code == 404
    assert stranger_client.post(reverse("exports:cancel", args=[job.pk])).status_code == 404
    assert ExportJob.objects.get(pk=job.pk).status == "queued"


def test_anonymous_users_are_sent_to_log_in(client, demo):
    response = client.get(reverse("datasets:detail", args=[demo.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def finished_job(client, demo) -> ExportJob:
    create(client, demo)
    job = ExportJob.objects.get()
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    return job


def test_a_signed_link_downloads_without_a_session(owner_client, client, demo):
    job = finished_job(owner_client, demo)
    owner_client.logout()
    response = client.get(links.signed_path(job))
    assert response.status_code == 200
    assert read_zip(b"".join(response.streaming_content))


def test_a_tampered_signed_link_is_refused(owner_client, demo):
    job = finished_job(owner_client, demo)
    path = links.signed_path(job)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    owner_client.logout()
    assert owner_client.get(tampered).status_code == 404


def test_expired_downloads_answer_410_with_a_page_for_browsers_and_json_otherwise(
        owner_client, demo):
    job = finished_job(owner_client, demo)
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    job.refresh_from_db()
    message = (f"This export expired on {job.expires_at:%Y-%m-%d %H:%M} UTC and its file was "
               f"deleted; export again.")
    for url in (reverse("exports:download", args=[job.pk]), links.signed_path(job)):
        response = owner_client.get(url)
        assert response.status_code == 410
        assert response.json() == {"code": "export_expired", "message": message}
        page = owner_client.get(url, HTTP_ACCEPT="text/html,*/*;q=0.8")
        assert page.status_code == 410 and page["Content-Type"].startswith("text/html")
        html = page.content.decode()
        assert "This export has expired" in html and message in html
        assert f'href="{reverse("datasets:detail", args=[demo.pk])}#current-jobs"' in html
    html = owner_client.get(reverse("exports:jobs", args=[demo.pk])).content.decode()
    assert "Export again" in html and '<span class="badge">Expired</span>' in html


def test_an_unknown_link_answers_404_with_a_page_or_json(client):
    response = client.get("/exports/link/not-a-link/", HTTP_ACCEPT="text/html")
    assert response.status_code == 404 and "This download link is not valid" in \
        response.content.decode()
    assert client.get("/exports/link/not-a-link/").json()["code"] == "link_invalid"


def test_expired_files_are_deleted_by_the_scheduled_task(owner_client, demo):
    job = finished_job(owner_client, demo)
    from exports.services import job_file
    path = job_file(job)
    assert path.is_file()
    assert tasks.delete_expired_exports() == 0
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.delete_expired_exports() == 1
    assert not path.exists()


def test_cancel_stops_a_queued_job_before_it_starts(owner_client, demo):
    create(owner_client, demo)
    job = ExportJob.objects.get()
    owner_client.post(reverse("exports:cancel", args=[job.pk]), **HX)
    assert tasks.run_export(str(job.pk)) == "not claimed"
    job.refresh_from_db()
    assert job.status == "cancelled" and not job.file_path


def test_export_again_after_expiry_creates_a_job_with_the_same_options(owner_client, demo):
    job = finished_job(owner_client, demo)
    response = owner_client.post(reverse("exports:again", args=[job.pk]), **HX)
    assert response.status_code == 200
    again = ExportJob.objects.exclude(pk=job.pk).get()
    assert (again.format, again.options) == (job.format, job.options)


def test_an_image_opens_larger_with_its_annotations_and_neighbours(owner_client, stranger, demo):
    first, second = demo.images.all()[:2]
    page = owner_client.get(reverse("annotations:image", args=[second.pk])).content.decode()
    assert second.original_name in page
    assert reverse("datasets:image_file", args=[second.pk]) in page  # the full-size bitmap
    assert f'href="{reverse("annotations:image", args=[first.pk])}"' in page  # previous image
    assert page.count("<rect") >= second.annotations.filter(kind="box").count()
    owner_client.force_login(stranger)
    assert owner_client.get(reverse("annotations:image", args=[second.pk])).status_code == 404


def test_the_legend_counts_each_label_by_kind(owner_client, demo):
    page = owner_client.get(reverse("annotations:tab", args=[demo.pk]), **HX).content.decode()
    assert reverse("annotations:legend", args=[demo.pk]) in page  # loaded after the tab
    legend = owner_client.get(reverse("annotations:legend", args=[demo.pk]), **HX)
    text = legend.content.decode()
    from annotations.models import Annotation
    cars = Annotation.objects.filter(label__dataset=demo, label__name="car", kind="box").count()
    assert f"{cars} boxes" in text
    assert "1 mask" in text and "keypoint instances" in text


def test_remove_deletes_an_ended_job_and_its_file_but_not_an_active_one(
        owner_client, stranger, demo):
    from django.test import Client

    from exports.services import job_file
    job = finished_job(owner_client, demo)
    path = job_file(job)
    other = Client()
    other.force_login(stranger)
    assert other.post(reverse("exports:remove", args=[job.pk])).status_code == 404
    create(owner_client, demo, format="coco")
    active = ExportJob.objects.get(status="queued")
    owner_client.post(reverse("exports:remove", args=[active.pk]), **HX)
    html = owner_client.post(reverse("exports:remove", args=[job.pk]), **HX).content.decode()
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [active.pk]
    assert not path.exists() and f'id="job-{job.pk}"' not in html


def test_a_running_row_shows_the_time_left_and_an_ended_one_how_long_it_took(owner_client, demo):
    job = finished_job(owner_client, demo)
    ExportJob.objects.filter(pk=job.pk).update(
        started_at=job.finished_at - timedelta(seconds=75))
    running = ExportJob.objects.create(owner=demo.owner, dataset=demo, format="coco",
                                       status="running", progress_done=1, progress_total=4,
                                       started_at=timezone.now() - timedelta(seconds=20))
    html = owner_client.get(reverse("exports:jobs", args=[demo.pk])).content.decode()
    assert "took 1 min 15 s" in html
    assert f'id="job-{running.pk}"' in html and "about 1 min left" in html
