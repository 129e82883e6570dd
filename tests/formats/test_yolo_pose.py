"""YOLO Pose (Ultralytics `task=pose`): what `manage.py export_annotations` writes (FORMATS.md
§4), the refusal of labels whose skeletons differ in size on every path that starts an export,
the skeletons an import makes or reuses, and what the reader refuses."""

from __future__ import annotations

import html
import re

import pytest
from django.core.management.base import CommandError
from django.urls import reverse

from annotations.demo import SKELETON_FLIPS, SKELETON_POINTS
from annotations.formats.builtin import yolo_pose
from annotations.formats.errors import FormatError
from annotations.formats.records import Annotation as Record
from annotations.formats.records import Keypoint
from annotations.formats.spec import ReadContext
from annotations.models import Annotation
from api.services import token_create
from datasets.models import Image, Skeleton
from datasets.services import label_get_or_create
from exports import tasks
from exports.models import ExportJob
from exports.services import job_file

from ..api.conftest import ApiClient, exports_url
from ..conftest import read_zip
from ..uploads.conftest import make_zip, upload, upload_dir  # noqa: F401 (upload_dir: autouse)
from ..uploads.test_bad_input import refused
from ..uploads.test_outside_world import import_files
from .helpers import memory
from .yolo_exports import add, data_yaml, exported, label_lines

HX = {"HTTP_HX_REQUEST": "true"}
MIXED = ("YOLO Pose (Ultralytics) needs the same number of keypoints for every label ('person' "
         "has 5 points, 'robot' has 3 points): select labels whose skeletons have the same "
         "number of points.")


def flip_idx(k: int, pairs) -> list[int]:
    """FORMATS.md: each point's partner, itself where it has none."""
    partner = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    return [partner.get(i, i) for i in range(k)]


def skeleton(dataset, label: str, points: list[str], flips=()) -> Skeleton:
    return Skeleton.objects.create(dataset=dataset, label=label_get_or_create(
        dataset=dataset, name=label), name=label, keypoints=points, connections=[],
        flip_pairs=[list(p) for p in flips])


# --- what the export writes ---------------------------------------------------------------------

def test_data_yaml_has_kpt_shape_and_the_flip_idx_of_the_skeleton(demo, tmp_path):
    document = data_yaml(exported(demo, tmp_path, "yolo_pose", "--split", "0.25"))
    assert document == {"names": ["person"], "nc": 1, "train": "train/images",
                        "val": "test/images", "kpt_shape": [len(SKELETON_POINTS), 3],
                        "flip_idx": flip_idx(len(SKELETON_POINTS), SKELETON_FLIPS)}
    assert document["flip_idx"] == [0, 2, 1, 4, 3]


def expected_fields(row: Annotation, width: int, height: int) -> list[float | str]:
    """class cx cy w h, then x y v per point (FORMATS.md §4): numbers as fractions, the class
    and visibility as the text written, a v = 0 point as 0 0 0."""
    fields: list[float | str] = [
        "0", (row.xmin + row.xmax) / 2 / width, (row.ymin + row.ymax) / 2 / height,
        (row.xmax - row.xmin) / width, (row.ymax - row.ymin) / height]
    for x, y, v in row.geometry["points"]:
        fields += [0.0, 0.0, "0"] if v == 0 else [x / width, y / height, str(v)]
    return fields


def same_line(written: list[str], expected: list[float | str]) -> bool:
    """Text fields equal; numbers within the 6th decimal's rounding (x / w may be a tie)."""
    return len(written) == len(expected) and all(
        w == e if isinstance(e, str) else abs(float(w) - e) <= 5e-7 + 1e-12
        for w, e in zip(written, expected, strict=True))


def test_each_instance_is_its_box_then_its_points_with_integer_visibility(demo, tmp_path):
    members = exported(demo, tmp_path, "yolo_pose")
    hidden = 0
    for image in Image.objects.filter(dataset=demo):
        stem = image.original_name.rsplit(".", 1)[0]
        expected = [expected_fields(r, image.width, image.height)
                    for r in Annotation.objects.filter(image=image, kind="keypoints")]
        lines = label_lines(members, f"train/labels/{stem}.txt")
        assert len(lines) == len(expected)
        for fields in lines:
            assert sum(same_line(fields, e) for e in expected) == 1, fields
            assert all(re.fullmatch(r"\d\.\d{6}", v) for i, v in enumerate(fields[1:])
                       if i < 4 or (i - 4) % 3 < 2)
            assert all(v in ("0", "1", "2") for v in fields[7::3])
            for i in range(5, len(fields), 3):
                if fields[i + 2] == "0":
                    assert fields[i:i + 2] == ["0.000000", "0.000000"]
                    hidden += 1
    assert hidden  # the demo has points with v = 0


def test_flip_idx_comes_from_the_first_classs_skeleton_and_is_identity_where_unpaired(
        dataset, tmp_path):
    # 'walker' is the first class; the skeleton of 'runner' is stored first, without pairs.
    walker, runner = (label_get_or_create(dataset=dataset, name=n) for n in ("walker", "runner"))
    skeleton(dataset, "runner", ["a", "b", "c", "d"])
    skeleton(dataset, "walker", ["head", "left", "right", "tail"], [(1, 2)])
    street = Image.objects.get(dataset=dataset, original_name="street.jpg")
    points = [Keypoint(10.0, 10.0, 2), Keypoint(20.0, 20.0, 1), Keypoint(30.0, 30.0, 2),
              Keypoint(0.0, 0.0, 0)]
    for label in (walker, runner):
        add(street, Record(label.name, "keypoints", keypoints=points))
    document = data_yaml(exported(dataset, tmp_path, "yolo_pose"))
    assert document["names"] == ["walker", "runner"]
    assert (document["kpt_shape"], document["flip_idx"]) == ([4, 3], [0, 2, 1, 3])


# --- labels whose skeletons differ in size ------------------------------------------------------

@pytest.fixture
def mixed(demo):
    """The demo (person: 5 points) and a 'robot' with a 3-point skeleton and one instance."""
    skeleton(demo, "robot", ["base", "arm", "tool"])
    image = demo.images.exclude(annotations=None).first()
    add(image, Record("robot", "keypoints", keypoints=[
        Keypoint(30.0, 40.0, 2), Keypoint(50.0, 60.0, 2), Keypoint(0.0, 0.0, 0)]))
    return demo


def post(client, dataset, view: str, data: dict):
    return client.post(reverse(f"exports:{view}", args=[dataset.pk]), data, **HX)


def test_the_popup_preview_shows_the_refusal(owner_client, mixed):
    response = post(owner_client, mixed, "preview", {"format": "yolo_pose"})
    assert response.status_code == 200
    assert MIXED in html.unescape(response.content.decode())


def test_creating_the_job_from_the_popup_is_refused_with_the_form_error(owner_client, mixed):
    response = post(owner_client, mixed, "create", {"format": "yolo_pose", "normalized": "on"})
    assert response.status_code == 422
    assert MIXED in html.unescape(response.content.decode())
    assert not ExportJob.objects.exists()


def test_the_api_refuses_it_as_an_unusable_labels_option(client, owner, mixed):
    api = ApiClient(client, token_create(owner=owner, name="script")[1])
    response = api.post(exports_url(mixed), {"format": "yolo_pose"})
    assert response.status_code == 422
    assert response.json() == {"code": "invalid_option", "field": "options.labels",
                               "message": MIXED}
    assert not ExportJob.objects.exists()


def test_the_command_refuses_it_with_the_message(mixed, tmp_path):
    with pytest.raises(CommandError) as error:
        exported(mixed, tmp_path, "yolo_pose")
    assert str(error.value) == MIXED
    assert not ExportJob.objects.exists()


def test_leaving_one_of_the_labels_out_is_accepted_everywhere(client, owner_client, owner,
                                                             mixed, tmp_path):
    chosen = {"format": "yolo_pose", "normalized": "on", "labels_listed": "1",
              "labels": ["person"]}
    preview = html.unescape(post(owner_client, mixed, "preview", chosen).content.decode())
    assert MIXED not in preview and "<tfoot>" in preview
    assert post(owner_client, mixed, "create", chosen).status_code == 200
    job = ExportJob.objects.get()
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    members = read_zip(str(job_file(job)))
    yaml_text = members[f"{job.file_name[:-4]}/data.yaml"].decode()
    assert "kpt_shape: [5, 3]\n" in yaml_text

    api = ApiClient(client, token_create(owner=owner, name="script")[1])
    response = api.post(exports_url(mixed), {"format": "yolo_pose",
                                             "options": {"labels": ["robot"]}})
    assert response.status_code == 202, response.json()
    robot = data_yaml(exported(mixed, tmp_path, "yolo_pose", "--label", "robot"))
    assert (robot["names"], robot["kpt_shape"]) == (["robot"], [3, 3])


# --- import: the skeleton a YOLO pose upload makes or reuses ------------------------------------

POSE_UPLOAD = {
    "pose/data.yaml": "names:\n  0: walker\nkpt_shape: [3, 3]\nflip_idx: [0, 2, 1]\n"
                      "train: images/train\nval: images/train\n",
    "pose/labels/train/street.txt": "0 0.5 0.5 0.25 0.5 0.5 0.25 2 0.4 0.5 1 0 0 0\n",
}


def test_an_import_without_skeletons_creates_one_from_kpt_shape_and_flip_idx(
        owner_client, dataset):
    job = import_files(owner_client, dataset, POSE_UPLOAD)
    assert job.report["format"] == "yolo_pose"
    assert job.report["skeletons"] == [{"label": "walker", "keypoints": 3, "action": "create"}]
    made = Skeleton.objects.get(dataset=dataset)
    assert (made.label.name, made.keypoints, made.flip_pairs) == \
        ("walker", ["kp0", "kp1", "kp2"], [[1, 2]])
    row = Annotation.objects.get(image__dataset=dataset)
    assert row.geometry == {"points": [[320, 120, 2], [256, 240, 1], [0, 0, 0]]}
    assert (row.xmin, row.ymin, row.xmax, row.ymax) == (240, 120, 400, 360)


def test_an_import_reuses_the_datasets_skeleton_of_the_same_size(owner_client, dataset):
    own = skeleton(dataset, "walker", ["head", "left", "right"], [(1, 2)])
    job = import_files(owner_client, dataset, POSE_UPLOAD)
    assert job.report["skeletons"] == []
    assert list(Skeleton.objects.filter(dataset=dataset).values_list("pk", "keypoints")) == \
        [(own.pk, ["head", "left", "right"])]
    assert Annotation.objects.filter(image__dataset=dataset, label=own.label).count() == 1


@pytest.fixture
def four_point_walker(dataset):
    return skeleton(dataset, "walker", ["head", "left", "right", "tail"])


def test_an_import_of_another_size_than_the_datasets_skeleton_is_refused(
        owner_client, dataset, four_point_walker, unchanged):
    response = upload(owner_client, dataset, {"pose.zip": make_zip(POSE_UPLOAD)})
    refused(response, 422, "'walker' has a skeleton of 4 points in this dataset and the "
                           "upload's keypoints have 3 (kpt_shape); upload a skeletons.json for "
                           "it or import into another dataset.")
    unchanged()


# --- what the reader refuses --------------------------------------------------------------------

def read(files: dict[str, str]):
    return yolo_pose.read(memory({"classes.txt": "walker\n", **files}),
                          ReadContext(image_sizes={"a.jpg": (200, 100)}))


GOOD = "0 0.5 0.5 0.2 0.2 0.5 0.4 2 0.6 0.6 1"


@pytest.mark.parametrize("yaml_text, line, message", [
    ("kpt_shape: [2, 3]\n", "0 0.5 0.5 0.2 0.2 0.5 0.4 2 0.6 0.6",
     "labels/a.txt line 2: expected 11 fields (class, box, 2 points of 3 numbers: kpt_shape "
     "[2, 3]), got 10"),
    ("kpt_shape: [2, 2]\n", GOOD,
     "labels/a.txt line 1: expected 9 fields (class, box, 2 points of 2 numbers: kpt_shape "
     "[2, 2]), got 11"),
    ("names: [walker]\n", GOOD, "data.yaml: YOLO pose needs kpt_shape: [points, 3] in data.yaml"),
    ("kpt_shape: [3]\n", GOOD, "data.yaml: kpt_shape must be [points, 2 or 3], got [3]"),
    ("kpt_shape: [2, 4]\n", GOOD, "data.yaml: kpt_shape must be [points, 2 or 3], got [2, 4]"),
    ("kpt_shape: [0, 3]\n", GOOD, "data.yaml: kpt_shape must be [points, 2 or 3], got [0, 3]"),
    ("nc: 1\nkpt_shape: [two, 3]\n", GOOD,
     "data.yaml line 2: kpt_shape must be a list of whole numbers, got '[two, 3]'"),
    ("kpt_shape: [2, 3]\nflip_idx: [0]\n", GOOD,
     "data.yaml: flip_idx must list each of the 2 points once, got [0]"),
    ("kpt_shape: [2, 3]\nflip_idx: [1, 1]\n", GOOD,
     "data.yaml: flip_idx must list each of the 2 points once, got [1, 1]"),
    ("kpt_shape: [2, 3]\n", "0 0.5 0.5 0.2 0.2 0.5 0.4 3 0.6 0.6 1",
     "labels/a.txt line 2: keypoint visibility must be 0, 1 or 2, got 3"),
    ("kpt_shape: [2, 3]\n", "0 0.5 0.5 0.2 0.2 0.5 0.4 2 0.6 0.6 0.5",
     "labels/a.txt line 2: keypoint visibility must be 0, 1 or 2, got 0.5"),
])
def test_bad_files_are_refused_with_the_file_and_line(yaml_text, line, message):
    with pytest.raises(FormatError) as error:
        read({"data.yaml": yaml_text, "labels/a.txt": f"{GOOD}\n{line}\n"})
    assert str(error.value) == message


def test_a_missing_data_yaml_is_refused_naming_it():
    with pytest.raises(FormatError, match=re.escape(
            "data.yaml: YOLO pose needs kpt_shape: [points, 3] in data.yaml")):
        read({"labels/a.txt": GOOD})


def test_points_of_two_numbers_are_read_as_visible():
    result = read({"data.yaml": "kpt_shape: [2, 2]\nflip_idx: [1, 0]\n",
                   "labels/a.txt": "0 0.5 0.5 0.2 0.2 0.5 0.4 0.6 0.6\n"})
    (annotation,) = result.images[0].annotations
    assert [(p.x, p.y, p.visibility) for p in annotation.keypoints] == \
        [(100, 40, 2), pytest.approx((120, 60, 2))]
    assert [(s.label, s.keypoints, s.flip_pairs) for s in result.skeletons] == \
        [("walker", ["kp0", "kp1"], [(0, 1)])]
