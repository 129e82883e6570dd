"""The export reads each stored image from the media folder, and nothing outside it."""

from __future__ import annotations

from django.core.files.storage import default_storage

from annotations.formats.options import ExportOptions
from datasets.models import Image
from exports import tasks
from exports.models import ExportJob
from exports.services import export_job_create, job_file

from ..conftest import read_zip


def export(dataset) -> ExportJob:
    job, _ = export_job_create(owner=dataset.owner, dataset=dataset, format_id="coco",
                               options=ExportOptions(include_images=True), enqueue=False,
                               reuse_active=False)
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    return job


def test_every_image_is_copied_byte_for_byte_from_its_stored_file(demo):
    job = export(demo)
    assert job.status == "finished"
    members = read_zip(str(job_file(job)))
    images = {name.rsplit("/", 1)[-1]: data for name, data in members.items()
              if not name.endswith(".json")}
    stored = list(Image.objects.filter(dataset=demo))
    assert len(images) == len(stored) > 0
    for image in stored:
        with default_storage.open(image.file.name, "rb") as handle:
            assert images[image.original_name] == handle.read(), image.original_name


def test_a_stored_name_leading_out_of_the_media_folder_fails_the_export(demo, tmp_path):
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"not for the zip")
    image = Image.objects.filter(dataset=demo).first()
    Image.objects.filter(pk=image.pk).update(file=f"images/../../../../../../../..{outside}")
    job = export(demo)
    assert job.status == "errored"
    assert "outside of the base path" in job.error  # the storage's own refusal, shown
    assert job_file(job) is None
