"""Upload -> preview -> confirm -> the worker imports in one transaction; through HTTP like a
browser, with the worker's task called directly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import plans, tasks
from annotations.models import Annotation, ImportJob
from annotations.reaper import import_jobs_reap
from datasets.models import Image, Label, Skeleton

from .conftest import make_zip, text, upload

CSV_HEADER = "filename,label,xmin,ymin,xmax,ymax\n"
FIXES_CSV = CSV_HEADER + (
    "street.jpg,car,10,20,110,220\n"        # fine
    "street.jpg,car,110,220,10,20\n"        # inverted: swapped
    "street.jpg,truck,600,400,700,500\n"    # over the edge: clamped
    "street.jpg,truck,10,10,10,50\n"        # no width: dropped
    "plaza.png,car,400,300,500,400\n"       # outside the 320x240 image: dropped
    "nowhere.jpg,car,1,2,3,4\n"             # not in the dataset
)


def labelme(shapes: list[tuple[str, str, list]]) -> str:
    return json.dumps({"version": "5.5.0", "flags": {}, "imagePath": "street.jpg",
                       "imageData": None, "imageHeight": 480, "imageWidth": 640,
                       "shapes": [{"label": label, "points": points, "group_id": None,
                                   "description": "", "shape_type": kind, "flags": {}}
                                  for label, kind, points in shapes]})


def confirm_and_run(client, job: ImportJob) -> ImportJob:
    response = client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[job.dataset_id]) + \
        "#current-jobs"
    assert tasks.run_import(str(job.pk)) == "imported"
    job.refresh_from_db()
    return job


def test_the_preview_counts_fixes_and_nothing_is_written_before_confirm(owner_client, dataset):
    response = upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("annotations:import_review", args=[job.pk])
    assert (job.phase, job.status, job.detected_format) == ("review", "finished",
                                                            "csv_fourcorner")
    assert not Annotation.objects.exists() and not Label.objects.exists()
    report = job.report
    assert report["images"] | {} == {
        "in_upload": 3, "matched": 2, "unmatched": 1, "folders_ignored": 0,
        "unmatched_examples": ["nowhere.jpg"], "folders_ignored_examples": [], "dataset_total": 3,
        "dataset_without_annotations": 1}
    assert report["annotations"]["total"] == 3
    assert report["annotations"]["by_kind"] == {"box": 3}
    assert report["annotations"]["on_unmatched_images"] == 1
    assert report["labels"]["new"] == ["car", "truck"]
    fixes = {fix["key"]: (fix["count"], fix["examples"]) for fix in report["fixes"]}
    assert fixes == {
        "swapped": (1, ["street.jpg: car box [110, 220, 10, 20]"]),
        "clamped": (2, ["street.jpg: truck box [600, 400, 700, 500] → [600, 400, 640, 480]",
                        "plaza.png: car box [400, 300, 500, 400] → [320, 240, 320, 240]"]),
        "zero_area": (2, ["street.jpg: truck box [10, 10, 10, 50]",
                          "plaza.png: car box [400, 300, 500, 400]"]),
    }
    page = text(owner_client.get(response["Location"]))
    for expected in ["Ready to review", "2</strong> images matched by file name (of 3 in the "
                     "upload; the dataset has 3)", "1 not matched: no image of that name in the "
                     "dataset (nowhere.jpg)", "Will be created: <strong>car</strong>, "
                     "<strong>truck</strong>", "1</strong> inverted box swapped",
                     "2</strong> boxes clamped to the image", "2</strong> zero-area boxes dropped",
                     "Import 3 annotations"]:
        assert expected in page, expected
    job = confirm_and_run(owner_client, job)
    assert job.counts == {"annotations": 3, "images": 1, "labels_created": 2, "skeletons": 0,
                          "already_in_dataset": 0, "images_gone": 0, "sets_recorded": 0}
    boxes = sorted(Annotation.objects.values_list("label__name", "xmin", "ymin", "xmax", "ymax"))
    assert boxes == [("car", 10, 20, 110, 220), ("car", 10, 20, 110, 220),
                     ("truck", 600, 400, 640, 480)]
    assert [label.name for label in dataset.labels.all()] == ["car", "truck"]


def test_degenerate_polygons_are_dropped_and_polygons_clamped(owner_client, dataset):
    document = labelme([
        ("road", "polygon", [[0, 400], [640, 400], [700, 500]]),       # clamped
        ("sign", "polygon", [[10, 10], [20, 20], [30, 30]]),           # no area
        ("sign", "polygon", [[10, 10], [10, 10], [30, 30]]),           # 2 distinct points
        ("car", "rectangle", [[50, 60], [10, 20]]),                    # corners either way
    ])
    upload(owner_client, dataset, {"street.json": document})
    job = ImportJob.objects.get()
    fixes = {fix["key"]: fix["count"] for fix in job.report["fixes"]}
    assert fixes == {"polygon_clamped": 1, "degenerate_polygon": 2}
    assert job.report["annotations"]["by_kind"] == {"box": 1, "polygon": 1}
    confirm_and_run(owner_client, job)
    road = Annotation.objects.get(kind="polygon")
    assert road.geometry == {"rings": [[0, 400, 640, 400, 640, 480]]}
    assert (road.xmin, road.ymin, road.xmax, road.ymax) == (0, 400, 640, 480)
    box = Annotation.objects.get(kind="box")
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == (10, 20, 50, 60)


KEYPOINTS_COCO = json.dumps({
    "images": [{"id": 1, "file_name": "street.jpg", "width": 640, "height": 480},
               {"id": 2, "file_name": "plaza.png", "width": 320, "height": 240}],
    "categories": [{"id": 1, "name": "person", "supercategory": "",
                    "keypoints": ["head", "hand"], "skeleton": [[1, 2]]}],
    "annotations": [
        {"id": i, "image_id": 1 + i % 2, "category_id": 1, "bbox": [10, 10, 50, 50], "area": 1,
         "iscrowd": 0, "num_keypoints": 2, "keypoints": [20, 20, 2, 40, 40, 1]}
        for i in range(1, 8)]})


def test_confirm_imports_all_or_nothing(owner_client, dataset, monkeypatch, upload_dir):
    monkeypatch.setattr(plans, "INSERT_CHUNK", 4)  # the plan's rows are spooled in chunks
    monkeypatch.setattr(plans, "STAGE_ROWS", 4)  # and staged in chunks
    upload(owner_client, dataset, {"person_keypoints.json": KEYPOINTS_COCO})
    job = ImportJob.objects.get()
    assert job.report["annotations"]["total"] == 7 and job.report["skeletons"] == [
        {"label": "person", "keypoints": 2, "action": "create"}]
    calls, stage_rows = [], plans.stage_rows

    def second_half_fails(connection, rows, position):
        calls.append(len(rows))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        stage_rows(connection, rows, position)

    monkeypatch.setattr(plans, "stage_rows", second_half_fails)
    owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert tasks.run_import(str(job.pk)) == "errored"
    job.refresh_from_db()
    assert calls == [4, 3]
    assert (job.status, job.phase) == ("errored", "import")
    assert job.error == "The server ran out of disk space; nothing was imported. Try again later."
    assert not Annotation.objects.exists()
    assert not Label.objects.exists() and not Skeleton.objects.exists()
    assert not (upload_dir / job.upload_id).exists()


def test_a_job_cancelled_while_it_writes_rolls_back(owner_client, dataset, monkeypatch):
    upload(owner_client, dataset, {"person_keypoints.json": KEYPOINTS_COCO})
    job = ImportJob.objects.get()
    owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))

    stage_rows = plans.stage_rows

    def cancelled_meanwhile(connection, rows, position):
        stage_rows(connection, rows, position)
        ImportJob.objects.filter(pk=job.pk).update(status="cancelled")

    monkeypatch.setattr(plans, "stage_rows", cancelled_meanwhile)
    assert tasks.run_import(str(job.pk)) == "cancelled"
    assert not Annotation.objects.exists() and not Label.objects.exists()


def test_keypoints_and_skeletons_are_imported(owner_client, dataset):
    upload(owner_client, dataset, {"person_keypoints.json": KEYPOINTS_COCO})
    job = confirm_and_run(owner_client, ImportJob.objects.get())
    assert job.counts["skeletons"] == 1
    skeleton = Skeleton.objects.get()
    assert (skeleton.label.name, skeleton.keypoints, skeleton.connections) == \
        ("person", ["head", "hand"], [[0, 1]])
    point = Annotation.objects.filter(kind="keypoints").first()
    assert point.geometry == {"points": [[20, 20, 2], [40, 40, 1]]}


def test_a_skeletons_file_alone_creates_then_updates_skeletons(owner_client, dataset):
    document = {"version": 1, "skeletons": [{"name": "walker", "label": "person",
                                             "keypoints": ["a", "b", "c"],
                                             "connections": [[0, 1]], "flip_pairs": []}]}
    upload(owner_client, dataset, {"skeletons.json": json.dumps(document)})
    job = ImportJob.objects.get()
    assert job.report["format_name"] == "skeletons.json"
    assert job.report["skeletons"] == [{"label": "person", "keypoints": 3, "action": "create"}]
    confirm_and_run(owner_client, job)
    document["skeletons"][0]["connections"] = [[0, 1], [1, 2]]
    upload(owner_client, dataset, {"skeletons.json": json.dumps(document)})
    second = ImportJob.objects.exclude(pk=job.pk).get()
    assert second.report["skeletons"][0]["action"] == "update"
    confirm_and_run(owner_client, second)
    assert Skeleton.objects.get().connections == [[0, 1], [1, 2]]
    assert Label.objects.get().name == "person"


def test_importing_the_same_file_again_adds_nothing(owner_client, dataset):
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    confirm_and_run(owner_client, ImportJob.objects.get())
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    second = ImportJob.objects.order_by("-created_at").first()
    assert second.report["annotations"]["total"] == 0
    assert second.report["annotations"]["already_in_dataset"] == 3
    assert second.report["labels"]["new"] == []
    second = confirm_and_run(owner_client, second)
    assert second.counts["annotations"] == 0 and second.counts["already_in_dataset"] == 3
    assert Annotation.objects.count() == 3


def test_images_deleted_between_preview_and_confirm_are_skipped(owner_client, dataset):
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    Image.objects.filter(original_name="street.jpg").delete()
    job = confirm_and_run(owner_client, ImportJob.objects.get())
    assert job.counts["annotations"] == 0 and job.counts["images_gone"] == 1


def test_discarding_a_preview_removes_its_upload(owner_client, dataset, upload_dir):
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    assert (upload_dir / job.upload_id / "plan.json").is_file()
    response = owner_client.post(reverse("annotations:import_discard", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert not (upload_dir / job.upload_id).exists()
    response = owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert response.status_code == 409
    assert "This import is no longer waiting for confirmation." in text(response)


def test_a_second_confirm_queues_nothing_more(owner_client, dataset,
                                              django_capture_on_commit_callbacks):
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert owner_client.post(reverse("annotations:import_confirm",
                                     args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert (job.phase, job.status, job.enqueues) == ("import", "queued", 1)


def test_current_jobs_shows_imports_beside_exports(owner_client, dataset):
    from exports.models import ExportJob

    ExportJob.objects.create(owner=dataset.owner, dataset=dataset, format="coco",
                             status="finished")
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    jobs = text(owner_client.get(reverse("exports:jobs", args=[dataset.pk])))
    assert f'id="job-{job.pk}"' in jobs and "COCO" in jobs
    assert jobs.index(f'id="job-{job.pk}"') < jobs.index("<strong>COCO</strong>")  # newest first
    assert "Ready to review" in jobs and "Review and import" in jobs
    assert "3 annotations on 2 images" in jobs
    assert "hx-trigger" not in jobs  # a preview waiting for the user is not polled
    confirm_and_run(owner_client, job)
    page = text(owner_client.get(reverse("exports:jobs", args=[dataset.pk])))
    assert "Imported" in page and "3 annotations imported, 2 labels created" in page


def test_large_uploads_are_analysed_by_the_worker(owner_client, dataset, settings,
                                                 django_capture_on_commit_callbacks):
    settings.NEXUS_INLINE_ANALYSIS_BYTES = 10
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert (job.phase, job.status, job.enqueues) == ("analyse", "queued", 1)
    jobs = text(owner_client.get(reverse("exports:jobs", args=[dataset.pk])))
    assert 'hx-trigger="every 1s"' in jobs and "Queued" in jobs
    review = text(owner_client.get(response["Location"]))
    assert 'hx-trigger="every 1s"' in review and "the preview appears here" in review
    polled = text(owner_client.get(response["Location"], HTTP_HX_REQUEST="true"))
    assert polled.startswith('<section id="import-status"') and "<html" not in polled
    assert tasks.run_import(str(job.pk)) == "ready for review"
    job.refresh_from_db()
    assert (job.phase, job.status) == ("review", "finished")
    assert job.report["annotations"]["total"] == 3
    assert "Import 3 annotations" in text(owner_client.get(response["Location"]))
    confirm_and_run(owner_client, job)
    assert Annotation.objects.count() == 3


def test_bad_input_analysed_by_the_worker_errors_the_job_with_the_message(
        owner_client, dataset, settings, upload_dir):
    settings.NEXUS_INLINE_ANALYSIS_BYTES = 10
    csv = "filename,width,height,class,xmin,ymin,xmax,ymax\nstreet.jpg,640,480,car,ten,2,3,4\n"
    response = upload(owner_client, dataset, {"_annotations.csv": csv})
    job = ImportJob.objects.get()
    assert tasks.run_import(str(job.pk)) == "errored"
    job.refresh_from_db()
    assert job.error == "_annotations.csv line 2: column xmin is not a number: 'ten'"
    review = owner_client.get(response["Location"])
    assert review.status_code == 422
    assert "_annotations.csv line 2: column xmin is not a number: 'ten'" in text(review)
    assert "Nothing was imported." in text(review)
    assert not Label.objects.exists()
    assert not (upload_dir / job.upload_id).exists()


def stalled_import(dataset, *, phase: str, attempts: int) -> ImportJob:
    """A running import whose worker last sent a heartbeat an hour ago."""
    return ImportJob.objects.create(
        owner=dataset.owner, dataset=dataset, upload_id="x", original_name="a.csv",
        phase=phase, status="running", attempts=attempts, worker_token="t",
        heartbeat_at=timezone.now() - timedelta(hours=1))


def test_the_reaper_errors_an_import_whose_worker_stopped_three_times(dataset):
    job = stalled_import(dataset, phase="import", attempts=3)
    assert import_jobs_reap()["errored"] == 1
    job.refresh_from_db()
    assert (job.status, job.error) == ("errored", "the worker stopped 3 times while importing")


def test_the_reaper_requeues_a_stalled_import(dataset):
    job = stalled_import(dataset, phase="analyse", attempts=1)
    assert import_jobs_reap()["requeued"] == 1
    job.refresh_from_db()
    assert (job.status, job.worker_token, job.enqueues) == ("queued", "", 1)


def test_previews_expire_and_abandoned_uploads_are_swept(owner_client, dataset, settings,
                                                         upload_dir):
    import os

    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    stray = upload_dir / "img-abandoned" / "content"
    stray.mkdir(parents=True)
    (stray / "00000").write_bytes(b"half an image")
    old = timezone.now().timestamp() - settings.NEXUS_UPLOAD_ABANDONED_SECONDS - 10
    for path in (stray / "00000", stray, stray.parent):
        os.utime(path, (old, old))
    assert import_jobs_reap()["swept"] == 1
    assert not stray.parent.exists() and (upload_dir / job.upload_id).exists()
    ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=2))
    assert import_jobs_reap()["expired"] == 1
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert job.error == "The preview expired after 24 hours; upload the file again."
    assert not (upload_dir / job.upload_id).exists()


def test_someone_elses_import_is_404(owner_client, stranger, dataset):
    from django.test import Client

    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    stranger_client = Client()
    stranger_client.force_login(stranger)
    assert stranger_client.get(reverse("annotations:import_review", args=[job.pk])) \
        .status_code == 404
    for name in ("annotations:import_confirm", "annotations:import_discard"):
        assert stranger_client.post(reverse(name, args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == "finished" and job.phase == "review"


def test_the_upload_page_offers_detection_and_every_format(owner_client, dataset):
    page = text(owner_client.get(reverse("annotations:upload", args=[dataset.pk])))
    assert '<option value="">Detect automatically</option>' in page
    assert '<option value="polygon_single">LabelMe</option>' in page
    assert 'data-max-bytes="2147483648"' in page
    assert "The upload is larger than the limit of 2 GB." in page


def test_a_script_upload_is_answered_with_the_review_location(owner_client, dataset):
    response = upload(owner_client, dataset, {"boxes.csv": FIXES_CSV},
                      HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    job = ImportJob.objects.get()
    assert response.status_code == 201
    assert response["X-Location"] == reverse("annotations:import_review", args=[job.pk])
    bad = upload(owner_client, dataset, {"x.csv": "a,b\n1,2\n"},
                 HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert bad.status_code == 422
    assert text(bad).strip().startswith('<p class="error" role="alert">No annotation format')


def test_upload_needs_the_csrf_token(dataset, upload_dir):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(dataset.owner)
    response = client.post(reverse("annotations:upload", args=[dataset.pk]),
                           {"files": [SimpleUploadedFile("boxes.csv", FIXES_CSV.encode())]})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()
    assert [p for p in upload_dir.rglob("*") if p.is_file()] == []


def test_a_zip_of_several_files_is_one_upload(owner_client, dataset):
    data = make_zip({"a/boxes.csv": FIXES_CSV, "a/readme.txt": "hello"})
    upload(owner_client, dataset, {"export.zip": data})
    job = ImportJob.objects.get()
    assert (job.original_name, job.report["files"]) == ("export.zip", 2)
    assert job.report["annotations"]["total"] == 3


@pytest.fixture
def tfrecord_export(tmp_path):
    from tests.formats.canonical import export_canonical, zip_members

    target = tmp_path / "tf.zip"
    export_canonical("tfrecord", str(target), normalized=True)
    members = zip_members(str(target))
    return {name.split("/", 1)[1]: data for name, data in members.items()
            if name.endswith((".tfrecord", ".pbtxt"))}


def test_tfrecord_uploads_are_read_only_by_the_worker(owner_client, dataset, monkeypatch,
                                                      tfrecord_export):
    from annotations.formats.families import tfrecord_writer

    real = tfrecord_writer.import_tf

    def not_here():
        raise AssertionError("TensorFlow loaded in the web request")

    monkeypatch.setattr(tfrecord_writer, "import_tf", not_here)
    response = upload(owner_client, dataset, {"tf.zip": make_zip(tfrecord_export)})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.phase, job.status) == ("analyse", "queued")
    monkeypatch.setattr(tfrecord_writer, "import_tf", real)
    assert tasks.run_import(str(job.pk)) == "ready for review"
    job.refresh_from_db()
    assert job.report["format"] == "tfrecord"
    assert job.report["images"]["matched"] == 2  # street.jpg and empty.jpg; "Bild ü.png" is not
    confirm_and_run(owner_client, job)
    assert Annotation.objects.filter(image__original_name="street.jpg").count() == 5


def _record_starts(data: bytes) -> list[int]:
    starts, position = [], 0
    while position < len(data):
        starts.append(position)
        position += int.from_bytes(data[position:position + 8], "little") + 16
    return starts


@pytest.mark.parametrize("damage", ["truncated", "checksum"])
def test_a_damaged_tfrecord_errors_the_job_with_the_message(owner_client, dataset, damage,
                                                            tfrecord_export, upload_dir):
    data = tfrecord_export["train/train.tfrecord"]
    starts = _record_starts(data)
    if damage == "truncated":
        data = data[:-20]
        message = ("train/train.tfrecord record 3: the file is truncated: it ends inside this "
                   f"record (which starts at byte {starts[2]})")
    else:
        data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        message = ("train/train.tfrecord record 1: the record is corrupted: a checksum does not "
                   "match (record at byte 12)")
    members = {**tfrecord_export, "train/train.tfrecord": data}
    response = upload(owner_client, dataset, {"tf.zip": make_zip(members)})
    job = ImportJob.objects.get()
    assert tasks.run_import(str(job.pk)) == "errored"
    job.refresh_from_db()
    assert job.error == message
    review = owner_client.get(response["Location"])
    assert review.status_code == 422 and message in text(review)
    assert not Label.objects.exists() and not Annotation.objects.exists()
    assert not (upload_dir / job.upload_id).exists()


def test_the_import_reaper_is_scheduled_once(db):
    from django_q.models import Schedule

    from annotations.schedules import ensure_schedules

    ensure_schedules()
    ensure_schedules()
    assert list(Schedule.objects.filter(func="annotations.tasks.reap_imports")
                .values_list("name", "minutes")) == [("nexus: reap stalled import jobs", 1)]


def test_uploads_reach_a_worker_on_another_machine_through_object_storage(
        owner_client, dataset, settings, upload_dir):
    """With STORAGES["uploads"] off local disk, a worker without the web's disk still works."""
    from django.core.files.storage import storages

    settings.STORAGES = {**settings.STORAGES, "uploads": {
        "BACKEND": "django.core.files.storage.InMemoryStorage"}}
    settings.NEXUS_INLINE_ANALYSIS_BYTES = 10
    upload(owner_client, dataset, {"boxes.csv": FIXES_CSV})
    job = ImportJob.objects.get()
    remote = storages["uploads"]
    assert remote.listdir(f"{job.upload_id}/content") == ([], ["boxes.csv"])
    assert not (upload_dir / job.upload_id).exists()  # the web machine keeps nothing
    assert tasks.run_import(str(job.pk)) == "ready for review"
    assert not (upload_dir / job.upload_id).exists()  # the fetched copy is gone again
    job.refresh_from_db()
    assert job.report["annotations"]["total"] == 3
    confirm_and_run(owner_client, job)
    assert Annotation.objects.count() == 3
    settings.NEXUS_INLINE_ANALYSIS_BYTES = 1 << 20  # previewed in the request: only the plan
    upload(owner_client, dataset, {"more.csv": CSV_HEADER + "plaza.png,car,1,2,30,40\n"})
    second = ImportJob.objects.exclude(pk=job.pk).get()
    folders, names = remote.listdir(second.upload_id)
    assert (folders, sorted(names)) == ([], ["plan-rows.jsonl", "plan.json"])
    assert not (upload_dir / second.upload_id).exists()
    confirm_and_run(owner_client, second)
    assert Annotation.objects.count() == 4
    assert not list(upload_dir.glob(".*"))  # no plan rows, no fetched copy left behind

    def files(prefix: str) -> list[str]:
        folders, names = remote.listdir(prefix)
        return names + [f for folder in folders for f in files(f"{prefix}/{folder}".strip("/"))]

    assert files("") == []  # nothing of the upload is left in the object storage


# A COCO file whose annotations jump between images, with polygons, a mask, a box over the edge,
# an image without annotations and one the dataset does not have.
SCATTERED_COCO = json.dumps({
    "images": [{"id": 1, "file_name": "street.jpg", "width": 640, "height": 480},
               {"id": 2, "file_name": "plaza.png", "width": 320, "height": 240},
               {"id": 3, "file_name": "empty.jpg", "width": 100, "height": 80},
               {"id": 4, "file_name": "elsewhere.jpg", "width": 100, "height": 80}],
    "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
        {"id": 2, "image_id": 2, "category_id": 2, "bbox": [0, 0, 50, 50],
         "segmentation": [[0, 0, 50, 0, 50, 50]]},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [600, 400, 100, 100]},
        {"id": 4, "image_id": 4, "category_id": 1, "bbox": [1, 1, 5, 5]},
        {"id": 5, "image_id": 2, "category_id": 1, "bbox": [2, 2, 2, 2],
         "segmentation": {"size": [240, 320], "counts": [0, 2, 238, 2, 76558]}},
        {"id": 6, "image_id": 1, "category_id": 2, "bbox": [5, 5, 10, 10]}]})


def _stored() -> list[tuple]:
    return sorted(Annotation.objects.values_list(
        "image__original_name", "label__name", "kind", "xmin", "ymin", "xmax", "ymax",
        "geometry"), key=repr)


def test_a_coco_file_read_as_a_stream_imports_exactly_what_a_parsed_one_does(
        owner_client, dataset, settings):
    """Files above NEXUS_STREAM_JSON_BYTES are parsed an annotation at a time; the preview and
    the rows written must not depend on which way the file was read."""
    results = []
    for threshold in (1 << 30, 0):  # parsed whole, then streamed
        Annotation.objects.all().delete()
        Label.objects.all().delete()
        settings.NEXUS_STREAM_JSON_BYTES = threshold
        upload(owner_client, dataset, {"instances.json": SCATTERED_COCO}, fmt="polygon_coco")
        job = ImportJob.objects.filter(phase="review").latest("created_at")
        confirm_and_run(owner_client, job)
        results.append((job.report, job.counts, _stored()))
    parsed, streamed = results
    assert streamed == parsed
    report, counts, rows = parsed
    assert report["images"]["in_upload"] == 4 and report["images"]["matched"] == 3
    assert report["images"]["unmatched_examples"] == ["elsewhere.jpg"]
    assert report["annotations"]["by_kind"] == {"box": 3, "polygon": 1, "mask": 1}
    assert [f["key"] for f in report["fixes"]] == ["clamped"]
    assert counts["annotations"] == 5 and counts["images"] == 2
    assert ("street.jpg", "car", "box", 600.0, 400.0, 640.0, 480.0, None) in rows


def test_importing_the_same_streamed_file_twice_adds_nothing(owner_client, dataset, settings):
    settings.NEXUS_STREAM_JSON_BYTES = 0
    settings.NEXUS_INLINE_ANALYSIS_BYTES = 0  # analysed by the worker, like a large upload
    for attempt in (1, 2):
        upload(owner_client, dataset, {"instances.json": SCATTERED_COCO}, fmt="polygon_coco")
        job = ImportJob.objects.filter(phase="analyse").latest("created_at")
        assert tasks.run_import(str(job.pk)) == "ready for review"
        job.refresh_from_db()
        assert job.report["annotations"]["already_in_dataset"] == (0 if attempt == 1 else 5)
        confirm_and_run(owner_client, job)
        assert job.counts["annotations"] == (5 if attempt == 1 else 0)
    assert Annotation.objects.count() == 5


def test_a_zipped_coco_file_with_annotations_first_is_streamed_from_the_zip(
        owner_client, dataset, settings):
    settings.NEXUS_STREAM_JSON_BYTES = 0
    scattered = json.loads(SCATTERED_COCO)
    reordered = {key: scattered[key] for key in ("annotations", "categories", "images")}
    body = "\ufeff" + json.dumps(reordered, indent=2)  # a BOM, as some Windows tools write
    upload(owner_client, dataset, {"export.zip": make_zip(
        {"train/_annotations.coco.json": body.encode("utf-8")})}, fmt="polygon_coco")
    job = confirm_and_run(owner_client, ImportJob.objects.get(phase="review"))
    assert job.counts["annotations"] == 5
    assert job.report["annotations"]["by_kind"] == {"box": 3, "polygon": 1, "mask": 1}
