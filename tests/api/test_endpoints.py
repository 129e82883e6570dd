"""Every JSON endpoint through HTTP; each response is also checked against openapi.json (see
conftest.ApiClient)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Count
from django.utils import timezone as django_timezone

from annotations.formats import registry
from annotations.models import Annotation
from exports import links, tasks
from exports.models import ExportJob
from exports.services import job_file

from .conftest import ApiClient, exports_url, job_url

YOLO = {"format": "yolo_darknet", "options": {"split_ratio": 0.25, "shuffle": True, "seed": 7}}


def create(api, dataset, body=None):
    return api.post(exports_url(dataset), YOLO if body is None else body)


def finished(api, dataset, body=None) -> dict:
    job_id = create(api, dataset, body).json()["id"]
    assert tasks.run_export(job_id) == "finished"
    return api.get(job_url(job_id)).json()


# --- datasets -----------------------------------------------------------------------------------

def test_datasets_lists_only_the_users_datasets(api, demo, stranger):
    from datasets.services import dataset_create

    dataset_create(owner=stranger, name="Not yours")
    body = api.get("/api/v1/datasets/").json()
    assert body["count"] == 1 and body["next"] is None
    (row,) = body["results"]
    assert (row["id"], row["name"], row["image_count"]) == (demo.pk, demo.name, 12)
    assert row["annotation_count"] == Annotation.objects.filter(image__dataset=demo).count()
    assert row["url"] == f"http://testserver/api/v1/datasets/{demo.pk}/"


def test_a_dataset_has_counts_per_kind_and_its_labels(api, demo):
    body = api.get(f"/api/v1/datasets/{demo.pk}/").json()
    rows = Annotation.objects.filter(image__dataset=demo).values("kind").annotate(n=Count("id"))
    assert body["annotation_counts"] == {"box": 0, "polygon": 0, "mask": 0, "keypoints": 0,
                                         "tag": 0} | {r["kind"]: r["n"] for r in rows}
    assert body["family_counts"]["classification"] == body["annotation_counts"]["tag"]
    assert [label["name"] for label in body["labels"]] == \
        list(demo.labels.values_list("name", flat=True))
    car = next(label for label in body["labels"] if label["name"] == "car")
    assert car["annotation_counts"]["box"] == \
        Annotation.objects.filter(label__name="car", label__dataset=demo, kind="box").count()
    assert body["exports_url"] == f"http://testserver{exports_url(demo)}"


def test_other_users_objects_are_404(client, demo, stranger_secret, secret):
    stranger = ApiClient(client, stranger_secret)
    job_id = create(ApiClient(client, secret), demo).json()["id"]
    for path in (f"/api/v1/datasets/{demo.pk}/", exports_url(demo), job_url(job_id),
                 f"{job_url(job_id)}download/"):
        response = stranger.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert stranger.post(exports_url(demo), YOLO).status_code == 404
    assert stranger.post(f"{job_url(job_id)}cancel/").status_code == 404
    assert ExportJob.objects.get().status == "queued"
    assert stranger.get(job_url("00000000-0000-0000-0000-000000000000")).status_code == 404


# --- formats ------------------------------------------------------------------------------------

def test_formats_lists_every_format_with_family_convention_and_description(api):
    results = api.get("/api/v1/formats/").json()["results"]
    assert [f["id"] for f in results] == registry.format_ids()
    for row in results:
        spec = registry.get_spec(row["id"])
        assert (row["name"], row["family"], row["normalized"], row["description"]) == \
            (spec.name, spec.family, spec.normalized, spec.description)
    yolo = next(f for f in results if f["id"] == "yolo_darknet")
    assert yolo["normalized"] is True and yolo["family_name"] == "Bounding boxes"


# --- create -------------------------------------------------------------------------------------

# The options added with the validation set, split modes and label selection, at their defaults.
LATER_DEFAULTS = {"valid_ratio": 0.0, "split_mode": "random", "labels": None, "rename": {},
                  "annotated_only": False}


def test_create_answers_202_with_the_queued_job(api, demo):
    response = create(api, demo)
    assert response.status_code == 202
    body = response.json()
    job = ExportJob.objects.get()
    assert response["Location"] == body["url"] == f"http://testserver{job_url(job.pk)}"
    assert body["status"] == "Queued" and body["download"] is None and body["file"] is None
    assert body["options"] == {"normalized": True, "shuffle": True, "seed": 7,
                               "split_ratio": 0.25, "include_images": True, **LATER_DEFAULTS}
    assert (job.format, job.seed_given) == ("yolo_darknet", True)
    assert (job.options["seed"], job.options["split_ratio"]) == (7, 0.25)


def test_an_identical_active_export_is_returned_with_200(api, demo):
    first = create(api, demo).json()
    again = create(api, demo)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    other = create(api, demo, {**YOLO, "options": {**YOLO["options"], "split_ratio": 0.5}})
    assert other.status_code == 202 and ExportJob.objects.count() == 2


@pytest.mark.parametrize("format_id", ["coco", "yolo_darknet", "csv_classification"])
def test_omitted_options_take_the_formats_convention(api, demo, format_id):
    body = create(api, demo, {"format": format_id}).json()
    spec = registry.get_spec(format_id)
    assert body["options"] == {"normalized": bool(spec.normalized), "shuffle": False, "seed": 0,
                               "split_ratio": 0.0, "include_images": True, **LATER_DEFAULTS}


def test_a_picked_seed_is_recorded(api, demo):
    body = create(api, demo, {"format": "coco", "options": {"shuffle": True}}).json()
    assert body["options"]["seed"] == ExportJob.objects.get().options["seed"]


UNUSABLE = ("'split_ratio': 1.5", "'seed': -1", "'valid_ratio'", "'split_mode'", "'labels'",
            "'rename'")


@pytest.mark.parametrize("body,field,message", [
    ({"format": "nope"}, "format", "Unknown export format 'nope'."),
    ({}, "format", 'Give an export format, e.g. "coco"; GET /api/v1/formats/ lists them.'),
    ({"format": 3}, "format", "format must be a string, got 3."),
    ({"format": "coco", "options": {"split_ratio": 1.5}}, "options.split_ratio",
     "Train-test split must be between 0 and 1, got 1.5."),
    ({"format": "coco", "options": {"split_ratio": "0.3"}}, "options.split_ratio",
     "split_ratio must be a number, got '0.3'."),
    ({"format": "coco", "options": {"seed": -1}}, "options.seed",
     "Seed must be between 0 and 2147483647."),
    ({"format": "coco", "options": {"seed": 1.5}}, "options.seed",
     "seed must be a whole number or null, got 1.5."),
    ({"format": "coco", "options": {"shuffle": "yes"}}, "options.shuffle",
     "shuffle must be true or false, got 'yes'."),
    ({"format": "coco", "options": {"split": 0.2}}, "options.split",
     "Unknown field options.'split'; expected one of normalized, shuffle, seed, split_ratio, "
     "include_images, valid_ratio, split_mode, labels, rename, annotated_only."),
    ({"format": "coco", "options": {"split_ratio": 0.7, "valid_ratio": 0.4}},
     "options.valid_ratio", "Train-test split (0.7) and validation share (0.4) add up to 1.1; "
     "together they must be at most 1."),
    ({"format": "coco", "options": {"split_mode": "sideways"}}, "options.split_mode",
     "Split mode must be one of random, stratified, stable, keep, got 'sideways'."),
    ({"format": "coco", "options": {"split_mode": "keep"}}, "options.split_mode",
     "Keep puts each image back in the set it was uploaded in, and no image of this dataset "
     "came with a set (upload a dataset with train/, valid/ or test/ folders to record them)."),
    ({"format": "coco", "options": {"labels": ["car", "unicorn"]}}, "options.labels",
     "No label 'unicorn' in this dataset (its labels: 'car', 'traffic light', 'person', "
     "'puddle', 'day', 'night')."),
    ({"format": "coco", "options": {"rename": {"car": "a:b"}}}, "options.rename",
     "Cannot rename 'car': label 'a:b' contains ':', which class files cannot carry."),
    ({"format": "coco", "option": {}}, "option",
     "Unknown field 'option'; expected one of format, options."),
    ({"format": "coco", "options": [1]}, "options", "options must be a JSON object."),
])
def test_invalid_options_are_refused_with_the_field(api, demo, body, field, message):
    """Malformed (wrong type, unknown field): 400; well-formed but unusable values: 422."""
    response = create(api, demo, body)
    unusable = any(marker in repr(body) for marker in UNUSABLE)
    assert response.status_code == (422 if unusable else 400)
    assert response.json() == {"code": "invalid_option", "field": field, "message": message}
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"coco"'])
def test_a_body_that_is_not_a_json_object_is_400(api, demo, raw):
    response = api.request("post", exports_url(demo), raw=raw)
    assert response.status_code == 400 and response.json()["code"] == "invalid_json"


def test_a_format_whose_family_the_dataset_lacks_is_400(api, demo):
    Annotation.objects.filter(image__dataset=demo, kind="tag").delete()
    response = create(api, demo, {"format": "csv_classification"})
    assert response.status_code == 400
    assert response.json()["field"] == "format"
    assert "this dataset has none" in response.json()["message"]


# --- the running-exports limit ------------------------------------------------------------------

def test_over_the_limit_of_active_exports_a_new_one_is_429(api, demo, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 2
    first = create(api, demo, {"format": "coco"}).json()
    create(api, demo, {"format": "yolo_darknet"})
    refused = create(api, demo, {"format": "pascal_voc"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_exports"
    assert "You have 2 exports queued or running; the limit is 2." in refused.json()["message"]
    assert refused["Retry-After"] == "30"
    assert ExportJob.objects.count() == 2
    # An identical export adds no work: it is returned even at the limit.
    assert create(api, demo, {"format": "coco"}).status_code == 200
    api.post(f"{job_url(first['id'])}cancel/")
    assert create(api, demo, {"format": "pascal_voc"}).status_code == 202


def test_finished_exports_do_not_count_toward_the_limit(api, demo, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    finished(api, demo, {"format": "coco"})
    assert create(api, demo, {"format": "pascal_voc"}).status_code == 202


# --- status, download, cancel -------------------------------------------------------------------

def test_a_finished_export_has_a_signed_download_with_its_expiry(api, client, demo):
    body = finished(api, demo)
    job = ExportJob.objects.get()
    assert body["status"] == "Finished" and body["progress"]["percent"] == 100
    assert body["counts"] == job.counts and sum(c["images"] for c in body["counts"].values()) == 12
    assert body["error"] is None and body["expired"] is False
    data = job_file(job).read_bytes()
    assert body["file"] == {"name": job.file_name, "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()}
    download = body["download"]
    assert download["method"] == "GET"
    assert download["url"] == f"http://testserver{links.signed_path(job)}"
    assert download["expiry_date"].endswith("Z")
    assert datetime.fromisoformat(download["expiry_date"]) == \
        job.expires_at.astimezone(UTC).replace(microsecond=0)
    response = client.get(download["url"])  # no token, no session: the signature is enough
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data


def test_the_download_endpoint_redirects_to_the_signed_url(api, demo):
    body = finished(api, demo)
    response = api.get(f"{job_url(body['id'])}download/")
    assert response.status_code == 302
    # Signed links carry their signing time, so two of them may differ: compare what they sign.
    from exports import links
    token = lambda url: url.rstrip("/").rsplit("/", 1)[1]  # noqa: E731
    assert links.read_token(token(response["Location"])) == \
        links.read_token(token(body["download"]["url"]))
    assert links.read_token(token(response["Location"]))["job"] == body["id"]


def test_downloading_an_unfinished_export_is_409(api, demo):
    job_id = create(api, demo).json()["id"]
    response = api.get(f"{job_url(job_id)}download/")
    assert response.status_code == 409
    assert response.json() == {"code": "export_not_finished", "message": "This export is Queued; "
                               "only a Finished export can be downloaded."}


def test_an_expired_export_is_410_and_has_no_download(api, demo):
    body = finished(api, demo)
    past = django_timezone.now() - timedelta(minutes=1)
    ExportJob.objects.update(expires_at=past)
    status = api.get(job_url(body["id"])).json()
    assert status["status"] == "Finished" and status["expired"] is True
    assert status["download"] is None and status["file"]["sha256"] == body["file"]["sha256"]
    response = api.get(f"{job_url(body['id'])}download/")
    assert response.status_code == 410 and response.json()["code"] == "export_expired"
    assert response.json()["message"].startswith("This export expired at ")


def test_an_export_whose_file_was_deleted_is_410(api, demo):
    body = finished(api, demo)
    ExportJob.objects.update(file_deleted_at=django_timezone.now())
    assert api.get(job_url(body["id"])).json()["download"] is None
    assert api.get(f"{job_url(body['id'])}download/").json()["code"] == "export_expired"


def test_a_running_export_reports_progress(api, demo):
    job_id = create(api, demo).json()["id"]
    ExportJob.objects.update(status="running", progress_done=3, progress_total=12,
                             started_at=django_timezone.now())
    body = api.get(job_url(job_id)).json()
    assert body["status"] == "Running"
    assert body["progress"] == {"done": 3, "total": 12, "percent": 25}
    assert body["started_at"].endswith("Z")


def test_an_errored_export_says_why(api, demo):
    job_id = create(api, demo).json()["id"]
    ExportJob.objects.update(status="errored", error="The server ran out of disk space.")
    body = api.get(job_url(job_id)).json()
    assert (body["status"], body["error"], body["download"]) == \
        ("Errored", "The server ran out of disk space.", None)


def test_cancel_stops_a_queued_export_and_is_idempotent(api, demo):
    job_id = create(api, demo).json()["id"]
    response = api.post(f"{job_url(job_id)}cancel/")
    assert response.status_code == 200 and response.json()["status"] == "Cancelled"
    assert tasks.run_export(job_id) == "not claimed"
    again = api.post(f"{job_url(job_id)}cancel/")
    assert again.status_code == 200 and again.json()["status"] == "Cancelled"


def test_cancelling_a_finished_export_leaves_it_finished(api, demo):
    body = finished(api, demo)
    assert api.post(f"{job_url(body['id'])}cancel/").json()["status"] == "Finished"


# --- history ------------------------------------------------------------------------------------

def test_the_history_is_paginated_newest_first(api, demo, owner, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 5
    ids = [create(api, demo, {"format": f}).json()["id"]
           for f in ("coco", "pascal_voc", "createml")]
    ExportJob.objects.create(owner=owner, dataset=demo, format="coco", status="finished")
    first = api.get(f"{exports_url(demo)}?page_size=2").json()
    assert first["count"] == 4 and first["page"] == 1 and first["previous"] is None
    assert [j["id"] for j in first["results"]][1:] == ids[::-1][:1]  # the extra one is newest
    assert first["next"] == f"http://testserver{exports_url(demo)}?page_size=2&page=2"
    second = api.get(first["next"].removeprefix("http://testserver")).json()
    assert [j["id"] for j in second["results"]] == ids[::-1][1:]
    assert second["next"] is None and second["previous"].endswith("page=1")
    past_the_end = api.get(f"{exports_url(demo)}?page=9").json()
    assert past_the_end["results"] == [] and past_the_end["count"] == 4


@pytest.mark.parametrize("query,field", [("page=0", "page"), ("page=x", "page"),
                                         ("page_size=101", "page_size"),
                                         ("page_size=-1", "page_size")])
def test_bad_page_parameters_are_400(api, demo, query, field):
    response = api.get(f"{exports_url(demo)}?{query}")
    assert response.status_code == 400
    assert response.json()["field"] == field and response.json()["code"] == "invalid_option"


# --- HTTP details -------------------------------------------------------------------------------

def test_unknown_api_paths_are_json_404s(client, secret):
    response = client.get("/api/v1/nothing/here/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client.post("/api/v1/formats")
    assert response.json()["message"] == ("There is no API endpoint at /api/v1/formats; did you "
                                          "mean /api/v1/formats/?")


def test_a_wrong_method_is_405_json(client, secret, demo):
    response = client.delete(f"/api/v1/datasets/{demo.pk}/exports/",
                             HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed" and response["Allow"] == "GET, POST"


def test_api_responses_are_never_cached(api, demo):
    assert api.get(f"/api/v1/datasets/{demo.pk}/")["Cache-Control"] == "no-store"
