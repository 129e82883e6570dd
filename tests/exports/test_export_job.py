"""Exports run through the worker task, then the zip is parsed and compared with the database."""

from __future__ import annotations

import json

import pytest
from pycocotools.coco import COCO

from annotations.formats.options import ExportOptions
from exports import tasks
from exports.models import ExportJob
from exports.services import export_job_create, job_file

from ..conftest import read_zip
from ..factories import dataset_with_boxes
from .helpers import expected_boxes, parse_coco, parse_csv, parse_voc, parse_yolo, sizes


def run(dataset, fmt, **options) -> tuple[ExportJob, dict[str, bytes]]:
    export_options = ExportOptions(normalized=options.get("normalized", False),
                                   shuffle=options.get("shuffle", False),
                                   seed=options.get("seed"),
                                   split_ratio=options.get("split_ratio", 0.0),
                                   include_images=options.get("include_images", True))
    job, _ = export_job_create(owner=dataset.owner, dataset=dataset, format_id=fmt,
                               options=export_options,
                               enqueue=False, reuse_active=False)
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    return job, read_zip(str(job_file(job)))


def assert_boxes_match(actual: dict, expected: dict, tolerance: float = 0.5) -> None:
    assert sorted(actual) == sorted(expected)
    for name, boxes in expected.items():
        got = actual[name]
        assert [label for label, _ in got] == [label for label, _ in boxes], name
        for (_, want), (_, have) in zip(boxes, got, strict=True):
            assert have == pytest.approx(want, abs=tolerance), name


def box_classes(dataset) -> list[str]:
    """The default class list of a box format (FORMATS.md §1): every label but the tag-only
    ones, in dataset order."""
    tag_only = [label.name for label in dataset.labels.all()
                if set(label.annotations.values_list("kind", flat=True)) == {"tag"}]
    names = [n for n in dataset.labels.values_list("name", flat=True) if n not in tag_only]
    assert tag_only and names  # the demo has both, so this test tells them apart
    return names


def test_yolo_darknet_export_holds_every_image_once_with_its_boxes(demo):
    job, members = run(demo, "yolo_darknet", normalized=True, split_ratio=0.3, shuffle=True, seed=7)
    labels = box_classes(demo)
    top = job.file_name[:-4]
    assert members[f"{top}/train/classes.txt"].decode().splitlines() == labels
    parsed = parse_yolo(members, top, sizes(demo), labels)
    assert_boxes_match(parsed, expected_boxes(demo))
    for name, data in members.items():
        if "/labels/" in name:
            for line in data.decode().splitlines():
                values = [float(v) for v in line.split()[1:]]
                assert all(0.0 <= v <= 1.0 for v in values), line
                assert all(len(v.split(".")[1]) == 6 for v in line.split()[1:]), line


def test_coco_export_loads_in_pycocotools_and_matches_the_database(demo, tmp_path):
    job, members = run(demo, "coco", include_images=False)
    top = job.file_name[:-4]
    path = tmp_path / "coco.json"
    path.write_bytes(members[f"{top}/train/_annotations.coco.json"])
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == box_classes(demo)
    assert len(coco.getImgIds()) == demo.images.count()  # empty images kept
    assert_boxes_match(parse_coco(members, top), expected_boxes(demo))


@pytest.mark.parametrize("fmt", ["csv_fourcorner", "csv_widthheight"])
def test_csv_exports_match_the_database_and_list_empty_images_as_left_out(demo, fmt):
    job, members = run(demo, fmt, include_images=False)
    expected = {k: v for k, v in expected_boxes(demo).items() if v}
    assert_boxes_match(parse_csv(members, fmt == "csv_widthheight"), expected)
    manifest = json.loads(members[f"{job.file_name[:-4]}/manifest.json"])
    empty = [k for k, v in expected_boxes(demo).items() if not v]
    assert manifest["left_out"] == [{"file": name, "reason": "no annotations"} for name in empty]


def test_pascal_voc_export_matches_the_database_within_a_pixel(demo):
    job, members = run(demo, "pascal_voc", include_images=True)
    assert_boxes_match(parse_voc(members), expected_boxes(demo), tolerance=1.0)
    top = job.file_name[:-4]
    assert sum(1 for m in members if m.startswith(f"{top}/train/JPEGImages/")) == \
        demo.images.count()


def image_order(members: dict[str, bytes], set_name: str) -> list[str]:
    doc = next(json.loads(d) for n, d in members.items()
               if n.endswith(f"/{set_name}/_annotations.coco.json"))
    return [i["file_name"] for i in doc["images"]]


@pytest.mark.parametrize("ratio,n_test", [(0.0, 0), (0.3, 30), (1.0, 100)])
def test_split_puts_the_right_share_in_test_and_every_image_in_one_set(owner, ratio, n_test):
    dataset = dataset_with_boxes(owner, 100, boxes_on_every_image=False)
    job, members = run(dataset, "coco", split_ratio=ratio, include_images=False)
    train = image_order(members, "train") if n_test < 100 else []
    test = image_order(members, "test") if n_test else []
    assert len(test) == n_test and len(train) == 100 - n_test
    assert sorted(train + test) == sorted(f"img_{i:03d}.jpg" for i in range(100))
    assert job.counts.get("test", {}).get("images", 0) == n_test


def test_shuffle_is_reproducible_with_a_seed_and_differs_with_another(owner):
    dataset = dataset_with_boxes(owner, 40, boxes_on_every_image=False)
    _, first = run(dataset, "coco", shuffle=True, seed=7, include_images=False)
    _, again = run(dataset, "coco", shuffle=True, seed=7, include_images=False)
    _, other = run(dataset, "coco", shuffle=True, seed=8, include_images=False)
    _, plain = run(dataset, "coco", include_images=False)
    assert image_order(first, "train") == image_order(again, "train")
    assert image_order(first, "train") != image_order(other, "train")
    assert image_order(plain, "train") == [f"img_{i:03d}.jpg" for i in range(40)]


def test_normalized_and_absolute_exports_agree_after_scaling(demo):
    _, absolute = run(demo, "coco", include_images=False)
    _, normal = run(demo, "coco", normalized=True, include_images=False)
    dims = sizes(demo)
    for name, boxes in parse_coco(normal, "").items():
        w, h = dims[name]
        scaled = [(label, (b[0] * w, b[1] * h, b[2] * w, b[3] * h)) for label, b in boxes]
        assert_boxes_match({name: scaled}, {name: parse_coco(absolute, "")[name]}, 0.02)


def test_a_seed_is_recorded_when_shuffle_has_none(demo):
    job, members = run(demo, "coco", shuffle=True, include_images=False)
    manifest = json.loads(members[f"{job.file_name[:-4]}/manifest.json"])
    assert manifest["options"]["seed"] == job.options["seed"]
    assert manifest["options"]["shuffle"] is True


def test_the_same_export_twice_gives_byte_identical_annotation_files(demo):
    first_job, first = run(demo, "pascal_voc", shuffle=True, seed=3, split_ratio=0.25)
    second_job, second = run(demo, "pascal_voc", shuffle=True, seed=3, split_ratio=0.25)
    strip = lambda members, job: {k.split("/", 1)[1]: v for k, v in members.items()  # noqa: E731
                                  if not k.endswith("manifest.json")}
    assert strip(first, first_job) == strip(second, second_job)
