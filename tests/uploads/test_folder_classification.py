"""Image Folders uploads through the browser's upload: class folders become tags, set folders
the images' recorded sets; an export comes back as it went out; bad layouts name the file."""

from __future__ import annotations

from django.urls import reverse

from annotations import tasks
from annotations.formats.options import ExportOptions
from annotations.models import Annotation, ImportJob
from datasets.models import Dataset
from datasets.services import label_get_or_create
from exports import tasks as export_tasks
from exports.services import export_job_create, job_file

from .conftest import IMAGES, image_bytes, make_zip, text, upload
from .test_outside_world import copy_of


def review(client, dataset: Dataset, data: bytes, fmt: str = "") -> ImportJob:
    response = upload(client, dataset, {"classes.zip": data}, fmt=fmt)
    assert response.status_code == 302, text(response)[-600:]
    return ImportJob.objects.get(dataset=dataset)


def confirm(client, job: ImportJob) -> ImportJob:
    client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert tasks.run_import(str(job.pk)) == "imported"
    job.refresh_from_db()
    return job


def tags(dataset: Dataset) -> list[tuple[str, str]]:
    return sorted(Annotation.objects.filter(image__dataset=dataset, kind="tag")
                  .values_list("image__original_name", "label__name"))


def test_class_folders_of_another_tool_become_tags_and_their_sets_are_recorded(
        owner_client, dataset):
    street, plaza = (image_bytes(n, *IMAGES[n]) for n in ("street.jpg", "plaza.png"))
    job = review(owner_client, dataset, make_zip({
        "flowers/train/Cat/street.jpg": street, "flowers/val/dog/plaza.png": plaza,
        "flowers/val/Cat/plaza.png": plaza, "flowers/README.md": "from a classifier's repo"}))
    assert (job.report["format"], job.report["candidates"]) == ("folder_classification", [])
    assert job.report["labels"]["new"] == ["Cat", "dog"]  # folder names, sorted
    assert job.report["images"]["matched"] == 2
    job = confirm(owner_client, job)
    assert tags(dataset) == [("plaza.png", "Cat"), ("plaza.png", "dog"), ("street.jpg", "Cat")]
    assert dict(dataset.images.values_list("original_name", "recorded_set")) == \
        {"street.jpg": "train", "plaza.png": "valid", "empty.jpg": ""}


def test_an_export_uploaded_into_a_copy_gives_back_its_tags_and_every_label(
        owner_client, dataset):
    labels = {n: label_get_or_create(dataset=dataset, name=n) for n in ("car", "person", "a/b")}
    for name, tagged in (("street.jpg", ["car"]), ("plaza.png", ["car", "person"])):
        image = dataset.images.get(original_name=name)
        for label in tagged:
            Annotation.objects.create(image=image, label=labels[label], kind="tag")
    options = ExportOptions(split_ratio=0.0, include_images=False, seed=0)
    export, _ = export_job_create(owner=dataset.owner, dataset=dataset,
                                  format_id="folder_classification", options=options,
                                  enqueue=False, reuse_active=False)
    assert export_tasks.run_export(str(export.pk)) == "finished"
    export.refresh_from_db()
    copy = copy_of(dataset, "Street copy")
    job = review(owner_client, copy, job_file(export).read_bytes())
    assert job.report["format"] == "folder_classification"
    # The manifest gives the folders back their names ("a/b" was written as a_b/, empty).
    assert job.report["labels"]["new"] == ["car", "person", "a/b"]
    confirm(owner_client, job)
    assert tags(copy) == tags(dataset)
    assert list(copy.labels.order_by("position").values_list("name", flat=True)) == \
        ["car", "person", "a/b"]


def test_an_image_outside_a_class_folder_is_refused_naming_it(owner_client, dataset,
                                                               unchanged):
    street = image_bytes("street.jpg", *IMAGES["street.jpg"])
    response = upload(owner_client, dataset, {"classes.zip": make_zip(
        {"train/car/street.jpg": street, "train/plaza.jpg": street})})
    assert response.status_code == 422
    assert ("train/plaza.jpg: the image is not in a class folder; put each image in a folder "
            "named after its class (train/<class>/<file>)") in text(response)
    unchanged()


def test_a_file_that_is_no_image_is_refused_naming_it(owner_client, dataset, unchanged):
    street = image_bytes("street.jpg", *IMAGES["street.jpg"])
    response = upload(owner_client, dataset, {"classes.zip": make_zip(
        {"train/car/street.jpg": street, "train/car/street.txt": "car"})},
        fmt="folder_classification")
    assert response.status_code == 422
    assert ("train/car/street.txt: not an image; an Image Folders upload holds only images, "
            "each in the folder of its class") in text(response)
    unchanged()
