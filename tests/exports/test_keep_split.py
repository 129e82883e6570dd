"""A dataset uploaded with its own split keeps it: the images' set folders are recorded on upload
(images or annotations), and the export's split mode `keep` puts every image back in its set
(FORMATS.md §3); images without a recorded set go by the stable rule."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from annotations.formats.io.reading import sources_by_set
from annotations.formats.io.source import MemorySource
from annotations.formats.splits import stable_share
from datasets.models import Dataset, Image
from datasets.services import image_create

from ..conftest import read_zip
from ..uploads.conftest import image_bytes
from .test_export_options import manifest_of


def export(dataset, tmp_path: Path, name: str, *args: str) -> dict[str, bytes]:
    out = tmp_path / f"{name}.zip"
    call_command("export_annotations", str(dataset.pk), *args, "-o", str(out),
                 stdout=io.StringIO())
    return read_zip(str(out))


def sets_by_file(members: dict[str, bytes]) -> dict[str, str]:
    """Image file name -> set, from a YOLO zip's label files."""
    found = {}
    for name in members:
        parts = name.split("/")
        if len(parts) == 4 and parts[2] == "images" and parts[3]:
            found[parts[3]] = parts[1]
    return found


@pytest.fixture
def split_zip(demo, tmp_path) -> tuple[Path, dict[str, str]]:
    members = export(demo, tmp_path, "split", "--format", "yolo_darknet", "--split", "0.25",
                     "--valid", "0.25", "--shuffle", "--seed", "3")
    path = tmp_path / "split-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    sets = sets_by_file(members)
    assert set(sets.values()) == {"train", "valid", "test"}
    return path, sets


def recorded(dataset: Dataset) -> dict[str, str]:
    return dict(dataset.images.values_list("original_name", "recorded_set"))


def test_uploading_images_of_a_split_export_records_their_sets_and_keep_exports_them_back(
        owner, split_zip, tmp_path):
    path, sets = split_zip
    call_command("import_images", "Copy", str(path), "--create", owner.username,
                 stdout=io.StringIO())
    copy = Dataset.objects.get(name="Copy")
    assert recorded(copy) == sets
    call_command("import_annotations", "Copy", str(path), "--yes", stdout=io.StringIO())

    kept = export(copy, tmp_path, "kept", "--format", "yolo_darknet", "--split-mode", "keep")
    assert sets_by_file(kept) == sets
    assert manifest_of(kept)["options"]["split_mode"] == "keep"


def test_importing_annotations_records_the_sets_of_images_uploaded_without_folders(
        owner, demo, split_zip, tmp_path):
    path, sets = split_zip
    flat = Dataset.objects.create(owner=owner, name="Flat", slug="flat")
    for image in demo.images.all():
        image_create(dataset=flat, name=image.original_name, data=image.file.read())
    assert set(recorded(flat).values()) == {""}

    out = io.StringIO()
    call_command("import_annotations", "Flat", str(path), "--yes", stdout=out)
    assert recorded(flat) == sets
    counts = {name: list(sets.values()).count(name) for name in ("train", "valid", "test")}
    assert f"Sets recorded: {counts['train']} train / {counts['valid']} valid / " \
           f"{counts['test']} test" in out.getvalue()

    # Two new images: no recorded set, so the stable rule with the job's ratios and seed 0.
    for shade in (7, 200):
        image_create(dataset=flat, name=f"new-{shade}.jpg",
                     data=image_bytes("n.jpg", 64, 48, (shade, shade, shade)))
    kept = export(flat, tmp_path, "kept", "--format", "yolo_darknet", "--split-mode", "keep",
                  "--split", "0.5")
    written = sets_by_file(kept)
    assert {name: written[name] for name in sets} == sets
    for image in Image.objects.filter(dataset=flat, original_name__startswith="new-"):
        share = stable_share(0, image.checksum)
        assert written[image.original_name] == ("test" if share < 0.5 else "train")


def test_keep_is_offered_and_accepted_only_for_a_dataset_with_recorded_sets(
        owner_client, demo, tmp_path):
    popup = owner_client.get(reverse("exports:create", args=[demo.pk]),
                             HTTP_HX_REQUEST="true").content.decode()
    assert 'value="stable"' in popup and 'value="keep"' not in popup
    with pytest.raises(CommandError, match="no image of this dataset came with a set"):
        export(demo, tmp_path, "refused", "--format", "coco", "--split-mode", "keep")

    demo.images.filter(pk=demo.images.first().pk).update(recorded_set="test")
    popup = owner_client.get(reverse("exports:create", args=[demo.pk]),
                             HTTP_HX_REQUEST="true").content.decode()
    assert 'value="keep"' in popup


def test_an_upload_with_annotation_files_outside_its_set_folders_is_read_whole():
    described = MemorySource({"d/data.yaml": b"", "d/train/labels/a.txt": b"",
                              "d/val/labels/b.txt": b""})
    assert {name: part.files() for name, part in sources_by_set(described).items()} == {
        "train": ["d/data.yaml", "d/train/labels/a.txt"],
        "valid": ["d/data.yaml", "d/val/labels/b.txt"]}
    # A COCO file beside the set folders annotates images of every set: no set can be told.
    assert sources_by_set(MemorySource({"instances.json": b"{}", "train/a.jpg": b""})) is None
    assert sources_by_set(MemorySource({"labels/a.txt": b""})) is None
