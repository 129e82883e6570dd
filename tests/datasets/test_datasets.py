"""Creating, renaming and deleting datasets from the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from annotations.formats.options import ExportOptions
from annotations.models import ImportJob
from datasets.models import Dataset, Image
from datasets.thumbnails import ensure_thumbnail
from exports import tasks as export_tasks
from exports.services import export_job_create, job_file

from ..uploads.conftest import text, upload


def test_the_datasets_page_creates_a_dataset(owner_client, owner):
    page = text(owner_client.get(reverse("datasets:list")))
    assert 'action="/datasets/new/"' in page and "Create dataset" in page
    response = owner_client.post(reverse("datasets:create"), {"name": "  Harbour cams  "})
    dataset = Dataset.objects.get(owner=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[dataset.pk])
    assert (dataset.name, dataset.slug) == ("Harbour cams", "harbour-cams")
    page = text(owner_client.get(response["Location"]))
    assert "This dataset has no images yet." in page
    assert reverse("datasets:images_upload", args=[dataset.pk]) in page
    assert reverse("annotations:upload", args=[dataset.pk]) in page


@pytest.mark.parametrize("name,message", [
    ("   ", "A dataset needs a name."),
    ("x" * 201, "A dataset name can have at most 200 characters."),
    ("tab\there", "A dataset name cannot contain control characters."),
    ("Street", "You already have a dataset called 'Street'."),
])
def test_bad_dataset_names_are_refused(owner_client, dataset, name, message):
    response = owner_client.post(reverse("datasets:create"), {"name": name})
    assert response.status_code == 422
    assert message in text(response)
    assert Dataset.objects.count() == 1


def test_a_dataset_is_renamed(owner_client, dataset):
    page = text(owner_client.get(reverse("datasets:rename", args=[dataset.pk])))
    assert 'value="Street"' in page
    response = owner_client.post(reverse("datasets:rename", args=[dataset.pk]),
                                 {"name": "Straße Süd"})
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.name, dataset.slug) == ("Straße Süd", "strae-sud")
    bad = owner_client.post(reverse("datasets:rename", args=[dataset.pk]), {"name": ""})
    assert bad.status_code == 422 and "A dataset needs a name." in text(bad)
    dataset.refresh_from_db()
    assert dataset.name == "Straße Süd"


def test_deleting_asks_first_then_removes_files_thumbnails_exports_and_uploads(
        owner_client, dataset, upload_dir, django_capture_on_commit_callbacks):
    image = dataset.images.first()
    thumb = ensure_thumbnail(image)
    files = [Path(default_storage.path(i.file.name)) for i in dataset.images.all()]
    export_options = ExportOptions(normalized=False, shuffle=False, seed=None, split_ratio=0.0,
                                   include_images=True)
    from annotations.models import Annotation
    from datasets.services import label_get_or_create

    Annotation.objects.create(image=image, label=label_get_or_create(dataset=dataset, name="x"),
                              kind="tag")
    job, _ = export_job_create(owner=dataset.owner, dataset=dataset,
                               format_id="csv_classification", options=export_options,
                               enqueue=False)
    export_tasks.run_export(str(job.pk))
    job.refresh_from_db()
    zip_path = job_file(job)
    upload(owner_client, dataset, {"a.csv": "filename,label\nstreet.jpg,x\n"})
    upload_folder = upload_dir / ImportJob.objects.get().upload_id
    assert zip_path.is_file() and upload_folder.is_dir() and default_storage.exists(thumb)
    assert all(f.is_file() for f in files)

    page = text(owner_client.get(reverse("datasets:delete", args=[dataset.pk])))
    assert "Delete “Street”?" in page
    assert "This deletes 3 images, 1 annotation and 1 label" in page
    assert Dataset.objects.filter(pk=dataset.pk).exists()  # asking deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("datasets:delete", args=[dataset.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("datasets:list")
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not Image.objects.filter(dataset_id=dataset.pk).exists()
    assert not any(f.exists() for f in files)
    assert not default_storage.exists(thumb)
    assert not zip_path.exists() and not upload_folder.exists()


def test_someone_elses_dataset_cannot_be_renamed_or_deleted(stranger_client, dataset):
    for name in ("datasets:rename", "datasets:delete"):
        assert stranger_client.get(reverse(name, args=[dataset.pk])).status_code == 404
        assert stranger_client.post(reverse(name, args=[dataset.pk]),
                                    {"name": "mine"}).status_code == 404
    dataset.refresh_from_db()
    assert dataset.name == "Street" and dataset.images.count() == 3
