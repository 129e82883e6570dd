"""Round trip with the outside world.

Small files laid out exactly as LabelImg, CVAT, Roboflow, LabelMe and Kaggle write them (written
by hand here, from those tools' documented layouts) are imported through the browser upload;
then export -> import into a copy of the dataset -> export gives the same annotation files.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from annotations import tasks
from annotations.formats import registry
from annotations.formats.options import ExportOptions
from annotations.models import Annotation, ImportJob
from datasets.models import Dataset, Label
from datasets.services import dataset_create, image_create
from exports import tasks as export_tasks
from exports.services import export_job_create, job_file

from .conftest import IMAGES, image_bytes, make_zip, text, upload


def import_files(client, dataset: Dataset, files: dict[str, bytes | str],
                 fmt: str = "") -> ImportJob:
    """Upload (one zip of `files`), check the preview, confirm, run the worker's tasks."""
    response = upload(client, dataset, {"upload.zip": make_zip(files)}, fmt=fmt)
    assert response.status_code == 302, text(response)[-600:]
    job = ImportJob.objects.filter(dataset=dataset).order_by("-created_at").first()
    if job.phase == "analyse":  # TFRecord: analysed by the worker
        assert tasks.run_import(str(job.pk)) == "ready for review", job.error
        job.refresh_from_db()
    assert job.awaiting_review, job.error
    client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert tasks.run_import(str(job.pk)) == "imported"
    job.refresh_from_db()
    return job


def boxes(dataset: Dataset) -> list[tuple]:
    return sorted(Annotation.objects.filter(image__dataset=dataset).values_list(
        "image__original_name", "label__name", "kind", "xmin", "ymin", "xmax", "ymax"))


def export(dataset: Dataset, format_id: str, normalized: bool | None = None) -> dict[str, bytes]:
    """The export zip's members below the top folder."""
    spec = registry.get_spec(format_id)
    normalized = bool(spec.normalized) if normalized is None else normalized
    export_options = ExportOptions(normalized=normalized, shuffle=False, seed=None,
                                   split_ratio=0.0, include_images=False)
    job, _ = export_job_create(owner=dataset.owner, dataset=dataset, format_id=format_id,
                               options=export_options,
                               enqueue=False, reuse_active=False)
    assert export_tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    with zipfile.ZipFile(job_file(job)) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def annotation_files(members: dict[str, bytes]) -> dict[str, bytes]:
    """What must come back identical: everything but the manifest and COCO's `info` (they name
    the dataset and the export's date), byte for byte."""
    files = {}
    for name, data in members.items():
        if name == "manifest.json":
            continue
        if name.endswith(".coco.json"):
            head, _, rest = data.partition(b'\n  "licenses"')
            assert head.startswith(b'{\n  "info": ') and rest
            data = rest
        files[name] = data
    return files


def copy_of(dataset: Dataset, name: str) -> Dataset:
    copy = dataset_create(owner=dataset.owner, name=name)
    for image in dataset.images.all():
        with default_storage.open(image.file.name, "rb") as handle:
            image_create(dataset=copy, name=image.original_name, data=handle.read())
    return copy


def assert_round_trip(client, dataset: Dataset, format_id: str) -> dict[str, bytes]:
    first = export(dataset, format_id)
    copy = copy_of(dataset, f"{dataset.name} copy {format_id}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in first.items():
            archive.writestr(f"top/{name}", data)
    response = upload(client, copy, {"export.zip": buffer.getvalue()})
    assert response.status_code == 302, text(response)[-600:]
    job = ImportJob.objects.get(dataset=copy)
    if job.phase == "analyse":  # TFRecord: analysed by the worker
        assert tasks.run_import(str(job.pk)) == "ready for review", job.error
        job.refresh_from_db()
    assert job.report["format"] == format_id
    assert job.report["images"]["unmatched"] == 0
    client.post(reverse("annotations:import_confirm", args=[job.pk]))
    assert tasks.run_import(str(job.pk)) == "imported"
    second = export(copy, format_id)
    if format_id.endswith("tfrecord"):  # records carry the image's database id: compare reads
        assert _read_back(first, format_id) == _read_back(second, format_id)
    else:
        assert annotation_files(second) == annotation_files(first)
    return first


def _read_back(members: dict[str, bytes], format_id: str) -> list:
    from annotations.formats.geometry import tight_box
    from annotations.formats.io.source import MemorySource
    from annotations.formats.spec import ReadContext

    result = registry.get_format(format_id).read(MemorySource(members), ReadContext())
    return sorted((i.file_name, a.label, a.kind,
                   tuple(round(v, 2) for v in (tight_box(a) or ())))
                  for i in result.images for a in i.annotations)


# --- LabelImg ---------------------------------------------------------------------------------

def labelimg_xml(file_name: str, width: int, height: int, objects: list[tuple]) -> str:
    """LabelImg's pascal_voc_io.py output: tab-indented, 1-based whole pixels, the full path."""
    body = "".join(
        f"\t<object>\n\t\t<name>{name}</name>\n\t\t<pose>Unspecified</pose>\n"
        f"\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n\t\t<bndbox>\n"
        f"\t\t\t<xmin>{x0}</xmin>\n\t\t\t<ymin>{y0}</ymin>\n\t\t\t<xmax>{x1}</xmax>\n"
        f"\t\t\t<ymax>{y1}</ymax>\n\t\t</bndbox>\n\t</object>\n"
        for name, (x0, y0, x1, y1) in objects)
    return (f"<annotation>\n\t<folder>images</folder>\n\t<filename>{file_name}</filename>\n"
            f"\t<path>/home/ana/images/{file_name}</path>\n\t<source>\n"
            f"\t\t<database>Unknown</database>\n\t</source>\n\t<size>\n"
            f"\t\t<width>{width}</width>\n\t\t<height>{height}</height>\n"
            f"\t\t<depth>3</depth>\n\t</size>\n\t<segmented>0</segmented>\n{body}</annotation>\n")


def test_labelimg_voc_beside_the_images(owner_client, dataset):
    files = {
        "images/street.jpg": image_bytes("street.jpg", 640, 480),
        "images/street.xml": labelimg_xml("street.jpg", 640, 480,
                                          [("car", (11, 21, 110, 220)),
                                           ("person", (301, 101, 340, 160))]),
        "images/plaza.xml": labelimg_xml("plaza.png", 320, 240, [("car", (1, 1, 50, 40))]),
        "images/classes.txt": "car\nperson\n",  # LabelImg keeps it beside the XMLs too
    }
    job = import_files(owner_client, dataset, files)
    assert job.report["format"] == "pascal_voc"
    assert boxes(dataset) == [
        ("plaza.png", "car", "box", 0, 0, 50, 40),
        ("street.jpg", "car", "box", 10, 20, 110, 220),
        ("street.jpg", "person", "box", 300, 100, 340, 160)]
    first = assert_round_trip(owner_client, dataset, "pascal_voc")
    assert b"<xmin>11</xmin>" in first["train/Annotations/street.xml"]


# --- CVAT -------------------------------------------------------------------------------------

CVAT_COCO = {
    "licenses": [{"name": "", "id": 0, "url": ""}],
    "info": {"contributor": "", "date_created": "", "description": "", "url": "", "version": "",
             "year": ""},
    "categories": [{"id": 1, "name": "car", "supercategory": ""},
                   {"id": 2, "name": "traffic light", "supercategory": ""}],
    "images": [{"id": 1, "width": 640, "height": 480, "file_name": "street.jpg", "license": 0,
                "flickr_url": "", "coco_url": "", "date_captured": 0},
               {"id": 2, "width": 320, "height": 240, "file_name": "plaza.png", "license": 0,
                "flickr_url": "", "coco_url": "", "date_captured": 0}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [], "area": 20099.25,
         "bbox": [10.0, 20.0, 100.5, 199.75], "iscrowd": 0,
         "attributes": {"occluded": False, "rotation": 0.0}},
        {"id": 2, "image_id": 1, "category_id": 2,
         "segmentation": [[300.0, 100.0, 340.0, 100.0, 320.0, 160.0]], "area": 1200.0,
         "bbox": [300.0, 100.0, 40.0, 60.0], "iscrowd": 0,
         "attributes": {"occluded": False}},
        {"id": 3, "image_id": 2, "category_id": 1, "segmentation": [], "area": 100.0,
         "bbox": [310.0, 230.0, 20.0, 20.0], "iscrowd": 0, "attributes": {"occluded": True}},
    ],
}


def test_cvat_coco_under_annotations(owner_client, dataset):
    files = {"annotations/instances_default.json": json.dumps(CVAT_COCO),
             "images/street.jpg": image_bytes("street.jpg", 640, 480)}
    job = import_files(owner_client, dataset, files)
    assert job.report["format"] == "polygon_coco"
    assert job.report["fixes"][0]["text"] == "box clamped to the image"
    assert boxes(dataset) == [
        ("plaza.png", "car", "box", 310, 230, 320, 240),
        ("street.jpg", "car", "box", 10, 20, 110.5, 219.75),
        ("street.jpg", "traffic light", "polygon", 300, 100, 340, 160)]
    assert_round_trip(owner_client, dataset, "polygon_coco")
    assert_round_trip(owner_client, Dataset.objects.get(pk=dataset.pk), "coco")


def test_cvat_yolo_with_obj_names_and_obj_data(owner_client, dataset):
    files = {
        "obj.data": "classes = 2\ntrain = data/train.txt\nnames = data/obj.names\n"
                    "backup = backup/\n",
        "obj.names": "car\nperson\n",
        "train.txt": "data/obj_train_data/street.jpg\ndata/obj_train_data/empty.jpg\n",
        "obj_train_data/street.txt": "0 0.093750 0.250000 0.156250 0.416667\n"
                                     "1 0.500000 0.500000 0.250000 0.250000\n",
        "obj_train_data/empty.txt": "",
    }
    job = import_files(owner_client, dataset, files)
    assert job.report["format"] == "yolo_darknet"
    assert [(n, lbl, k, round(a), round(b), round(c), round(d))
            for n, lbl, k, a, b, c, d in boxes(dataset)] == [
        ("street.jpg", "car", "box", 10, 20, 110, 220),
        ("street.jpg", "person", "box", 240, 180, 400, 300)]
    assert_round_trip(owner_client, dataset, "yolo_darknet")


# --- Roboflow ---------------------------------------------------------------------------------

ROBOFLOW_COCO = {
    "info": {"year": "2024", "version": "3", "description": "Exported from roboflow.com",
             "contributor": "", "url": "https://public.roboflow.com/", "date_created": ""},
    "licenses": [{"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/",
                  "name": "CC BY 4.0"}],
    "categories": [{"id": 0, "name": "vehicles", "supercategory": "none"},
                   {"id": 1, "name": "bus", "supercategory": "vehicles"},
                   {"id": 2, "name": "car", "supercategory": "vehicles"}],
    "images": [{"id": 0, "license": 1, "file_name": "street.jpg", "height": 480, "width": 640,
                "date_captured": "2024-01-01T00:00:00+00:00"}],
    "annotations": [{"id": 0, "image_id": 0, "category_id": 2, "bbox": [10, 20, 100, 200],
                     "area": 20000, "segmentation": [], "iscrowd": 0},
                    {"id": 1, "image_id": 0, "category_id": 1, "bbox": [400, 40, 120.5, 80],
                     "area": 9640, "segmentation": [], "iscrowd": 0}],
}


def test_roboflow_coco(owner_client, dataset):
    files = {"train/_annotations.coco.json": json.dumps(ROBOFLOW_COCO),
             "train/street.jpg": image_bytes("street.jpg", 640, 480),
             "README.roboflow.txt": "Exported via roboflow.com"}
    job = import_files(owner_client, dataset, files)
    assert job.report["format"] == "coco"
    assert job.report["labels"]["unused"] == ["vehicles"]  # Roboflow's supercategory entry
    assert "<strong>vehicles</strong> <span class=\"muted\">(no annotations)</span>" in text(
        owner_client.get(reverse("annotations:import_review", args=[job.pk])))
    assert boxes(dataset) == [("street.jpg", "bus", "box", 400, 40, 520.5, 120),
                              ("street.jpg", "car", "box", 10, 20, 110, 220)]
    assert_round_trip(owner_client, dataset, "coco")


def test_roboflow_yolo_darknet_labels(owner_client, dataset):
    files = {"train/_darknet.labels": "bus\ncar\n",
             "train/street.jpg": image_bytes("street.jpg", 640, 480),
             "train/street.txt": "1 0.093750 0.250000 0.156250 0.416667\n",
             "valid/_darknet.labels": "bus\ncar\n",
             "valid/plaza.txt": "0 0.5 0.5 0.5 0.5\n"}
    job = import_files(owner_client, dataset, files)
    assert job.report["format"] == "yolo_darknet"
    assert [(n, lbl, round(a), round(b), round(c), round(d))
            for n, lbl, _, a, b, c, d in boxes(dataset)] == [
        ("plaza.png", "bus", 80, 60, 240, 180), ("street.jpg", "car", 10, 20, 110, 220)]
    assert [label.name for label in Label.objects.filter(dataset=dataset)] == ["bus", "car"]
    assert_round_trip(owner_client, dataset, "yolo_darknet")


# --- LabelMe ----------------------------------------------------------------------------------

def test_labelme_json_beside_the_images(owner_client, dataset):
    picture = image_bytes("street.jpg", 640, 480)
    document = {
        "version": "5.4.1", "flags": {},
        "shapes": [
            {"label": "road", "points": [[0, 300], [640, 300], [640, 480], [0, 480]],
             "group_id": None, "description": "", "shape_type": "polygon", "flags": {},
             "mask": None},
            {"label": "car", "points": [[110.5, 220], [10, 20]], "group_id": None,
             "description": "", "shape_type": "rectangle", "flags": {}, "mask": None},
            {"label": "pole", "points": [[5, 5], [5, 100]], "group_id": None,
             "description": "", "shape_type": "line", "flags": {}, "mask": None},
        ],
        "imagePath": "..\\images\\street.jpg",
        "imageData": base64.b64encode(picture).decode(),
        "imageHeight": 480, "imageWidth": 640,
    }
    job = import_files(owner_client, dataset, {"labels/street.json": json.dumps(document),
                                               "images/street.jpg": picture})
    assert job.report["format"] == "polygon_single"
    assert job.report["notes"] == ["labels/street.json: skipped shapes of type line"]
    assert boxes(dataset) == [("street.jpg", "car", "box", 10, 20, 110.5, 220),
                              ("street.jpg", "road", "polygon", 0, 300, 640, 480)]
    assert_round_trip(owner_client, dataset, "polygon_single")


# --- Kaggle -----------------------------------------------------------------------------------

def test_kaggle_csv_with_the_generate_tfrecord_header(owner_client, dataset):
    csv = ("filename,width,height,class,xmin,ymin,xmax,ymax\n"
           "street.jpg,640,480,raccoon,10,20,110,220\n"
           "street.jpg,640,480,raccoon,300,100,340,160\n"
           "plaza.png,320,240,dog,0,0,320,240\n")
    job = import_files(owner_client, dataset, {"train_labels.csv": csv})
    assert job.report["format"] == "csv_fourcorner"
    assert boxes(dataset) == [("plaza.png", "dog", "box", 0, 0, 320, 240),
                              ("street.jpg", "raccoon", "box", 10, 20, 110, 220),
                              ("street.jpg", "raccoon", "box", 300, 100, 340, 160)]
    assert_round_trip(owner_client, dataset, "csv_fourcorner")


def test_datature_csv_columns_in_any_order(owner_client, dataset):
    csv = "label,image_name,y_max,x_max,y_min,x_min\ncar,street.jpg,220,110,20,10\n"
    import_files(owner_client, dataset, {"annotations.csv": csv})
    assert boxes(dataset) == [("street.jpg", "car", "box", 10, 20, 110, 220)]


# --- every registered format, from the demo dataset -------------------------------------------

@pytest.mark.parametrize("format_id", registry.format_ids())
def test_every_format_round_trips_through_an_import(owner_client, demo, format_id):
    # Label colours travel in no annotation file the readers return; give the demo's labels the
    # colours a fresh import gives, so VOC's labelmap.txt (which writes them) compares equal.
    from datasets.services import PALETTE

    for label in demo.labels.all():
        Label.objects.filter(pk=label.pk).update(color=PALETTE[label.position - 1])
    assert_round_trip(owner_client, demo, format_id)


def test_the_demo_sizes_match_the_test_images():
    assert IMAGES["street.jpg"] == (640, 480)


def test_normalized_coordinates_are_recognised(owner_client, dataset):
    csv = ("filename,xmin,ymin,xmax,ymax,label\n"
           "street.jpg,0.015625,0.041667,0.171875,0.458333,car\n"
           "plaza.png,0,0,0.5,1,car\n")
    import_files(owner_client, dataset, {"boxes.csv": csv})
    assert [(n, round(a, 2), round(b, 2), round(c, 2), round(d, 2))
            for n, _, _, a, b, c, d in boxes(dataset)] == [
        ("plaza.png", 0, 0, 160, 240), ("street.jpg", 10, 20, 110, 220)]
