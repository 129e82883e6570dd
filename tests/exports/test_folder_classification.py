"""Image Folders exports through the paths users take: the shell command, the popup's preview
and the worker task; the zip is parsed as it comes out."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image as PILImage

from annotations.models import Annotation
from datasets.services import dataset_create, image_create, label_get_or_create
from exports import tasks
from exports.models import ExportJob
from exports.services import job_file

HX = {"HTTP_HX_REQUEST": "true"}
# Upload order; with a test share of 0.25 the last image is the test set.
TAGS = {"one.jpg": ["cat"], "two.jpg": ["cat", "dog"], "Two.png": ["dog"], "three.jpg": [],
        "four.jpg": ["dog"]}
LABELS = ["cat", "dog", "a/b", "A_B"]  # the last two have no image: empty class folders


def picture(name: str, shade: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (shade, 90, 120)).save(
        buffer, format="PNG" if name.endswith(".png") else "JPEG")
    return buffer.getvalue()


@pytest.fixture
def pets(owner):
    dataset = dataset_create(owner=owner, name="Pets")
    labels = {name: label_get_or_create(dataset=dataset, name=name) for name in LABELS}
    for shade, (name, tags) in enumerate(TAGS.items()):
        image, _ = image_create(dataset=dataset, name=name, data=picture(name, shade * 40))
        for tag in tags:
            Annotation.objects.create(image=image, label=labels[tag], kind="tag")
    return dataset


def zip_parts(data_or_path) -> tuple[dict[str, bytes], list[str]]:
    """(files, directory entries), named below the top folder."""
    with zipfile.ZipFile(data_or_path) as archive:
        infos = archive.infolist()
        files = {i.filename.split("/", 1)[1]: archive.read(i) for i in infos if not i.is_dir()}
        return files, [i.filename.split("/", 1)[1] for i in infos if i.is_dir()]


def test_the_command_writes_every_class_folder_in_every_set_and_images_in_each_class(
        pets, tmp_path, capsys):
    out = tmp_path / "pets.zip"
    call_command("export_annotations", str(pets.pk), "--format", "folder_classification",
                 "--split", "0.25", "--no-images", "-o", str(out))
    files, directories = zip_parts(out)
    clash = f"A_B__{pets.labels.get(name='A_B').pk}"  # the later of "a/b" and "A_B"
    assert directories == [f"{s}/{folder}/" for s in ("test", "train")
                           for folder in sorted([clash, "a_b", "cat", "dog"])]
    renamed = f"Two__{pets.images.get(original_name='Two.png').pk}.png"
    assert sorted(name for name in files if name != "manifest.json") == [
        "test/dog/four.jpg", "train/cat/one.jpg", "train/cat/two.jpg", f"train/dog/{renamed}",
        "train/dog/two.jpg"]
    stored = {image.original_name: image.file.read() for image in pets.images.all()}
    assert files["train/cat/two.jpg"] == files["train/dog/two.jpg"] == stored["two.jpg"]
    manifest = json.loads(files["manifest.json"])
    assert manifest["labels"] == LABELS
    assert manifest["sets"] == {"train": {"images": 4, "annotations": 4},
                                "test": {"images": 1, "annotations": 1}}
    assert manifest["left_out"] == [{"file": "three.jpg", "reason": "no class"}]
    assert manifest["renamed"] == [{"from": "Two.png", "to": renamed}]
    assert manifest["options"]["include_images"] is True  # --no-images cannot apply
    assert "train 4 images / 4 annotations, test 1 images / 1 annotations" in \
        capsys.readouterr().out


def post(client, dataset, name, data):
    return client.post(reverse(f"exports:{name}", args=[dataset.pk]), data, **HX)


def test_the_popup_says_how_many_images_go_to_several_folders_and_counts_as_the_zip(
        owner_client, pets):
    options = {"format": "folder_classification", "split_ratio": "0.25"}
    html = post(owner_client, pets, "preview", options).content.decode()
    assert ("1 image has 2 or more classes: each is written into every class folder it has"
            in html)
    assert post(owner_client, pets, "create", options).status_code == 200
    job = ExportJob.objects.get()
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    footer = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert [(int(i), int(a)) for i, a in re.findall(r"<td>(\d+) / (\d+)</td>", footer)] == \
        [(c["images"], c["annotations"]) for c in job.counts.values()] == [(4, 4), (1, 1)]
    # The train column: images per class folder, as many as the zip's folder holds.
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th><td>(\d+) / \d+</td>', html))
    files, _ = zip_parts(job_file(job))
    in_zip = {name: str(sum(n.startswith(f"train/{name}/") for n in files))
              for name in ("cat", "dog")}
    assert rows == in_zip | {"a/b": "0", "A_B": "0", "All": "4"}
    assert "1 image with nothing to write will be left out." in html


def test_the_popup_line_is_absent_when_no_image_has_two_classes(owner_client, pets):
    Annotation.objects.filter(image__original_name="two.jpg", label__name="dog").delete()
    html = post(owner_client, pets, "preview",
                {"format": "folder_classification"}).content.decode()
    assert "2 or more classes" not in html


def test_the_popup_shows_include_images_always_on_for_image_folders(owner_client, pets):
    popup = owner_client.get(reverse("exports:create", args=[pets.pk]), **HX).content.decode()
    assert 'value="folder_classification" data-normalized="none" data-images-always="yes"' \
        in popup
    assert "Image Folders (classification)" in popup
