"""COCO, COCO Polygons / Masks, COCO Keypoint: what pycocotools sees, what the reader refuses.

The generic round trip, golden files and detector live in test_roundtrip.py; these tests pin the
COCO-specific promises of FORMATS.md §4 with the format's best-known consumer, pycocotools.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotations.formats.builtin import coco, keypoints_coco, polygon_coco
from annotations.formats.errors import FormatError
from annotations.formats.families import rle
from annotations.formats.families.coco_reader import mirrored_pairs
from annotations.formats.io.source import MemorySource
from annotations.formats.io.zipout import ZipOut
from annotations.formats.options import ExportOptions
from annotations.formats.pipeline import order_and_split
from annotations.formats.records import Annotation, ImageRecord, Keypoint
from annotations.formats.spec import ExportSet, ReadContext

from .canonical import (
    LABELS,
    SKELETONS,
    canonical_images,
    export_canonical,
    image_sizes,
    zip_members,
)

# pycocotools 2.0.11 calls np.array(copy=False) on numpy 2: noise, not our concern.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools.*")
VARIANTS = ["coco", "polygon_coco", "keypoints_coco"]
FILE = "_annotations.coco.json"


def _members(tmp_path: Path, format_id: str, **options) -> dict[str, bytes]:
    """The export's members, keyed by path below the top folder ("train/_annotations.coco.json")."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / f"{format_id}.zip"
    export_canonical(format_id, str(target), **options)
    return {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}


def _document(tmp_path: Path, format_id: str, set_name: str = "train", **options) -> dict:
    return json.loads(_members(tmp_path, format_id, **options)[f"{set_name}/{FILE}"])


def _load(tmp_path: Path, format_id: str, **options) -> COCO:
    path = tmp_path / f"{format_id}-train.json"
    path.write_bytes(_members(tmp_path, format_id, **options)[f"train/{FILE}"])
    return COCO(str(path))


def _annotation_of(document: dict, file_name: str, category: str) -> dict:
    image_id = next(i["id"] for i in document["images"] if i["file_name"] == file_name)
    category_id = next(c["id"] for c in document["categories"] if c["name"] == category)
    return next(a for a in document["annotations"]
                if a["image_id"] == image_id and a["category_id"] == category_id)


# The default class list of each variant (FORMATS.md §1): labels whose annotations are all of
# kinds the family does not take are not classes (person has only keypoints and a tag).
CLASSES = {"coco": ["car", "traffic light", "café", "person"],
           "polygon_coco": ["car", "traffic light", "café"],
           "keypoints_coco": ["person"]}

# --- pycocotools reads what we write -------------------------------------------------------------

@pytest.mark.parametrize("format_id", VARIANTS)
def test_pycocotools_loads_every_set_file_of_every_coco_variant(format_id, tmp_path):
    members = _members(tmp_path, format_id, split_ratio=0.34)
    names, annotations = [], 0
    for set_name in ("train", "test"):
        path = tmp_path / f"{set_name}.json"
        path.write_bytes(members[f"{set_name}/{FILE}"])
        api = COCO(str(path))
        names += [i["file_name"] for i in api.loadImgs(api.getImgIds())]
        annotations += len(api.getAnnIds())
        assert [c["name"] for c in api.loadCats(api.getCatIds())] == CLASSES[format_id]
    assert sorted(names) == ["Bild ü.png", "empty.jpg", "street.jpg"]
    assert annotations == {"coco": 7, "polygon_coco": 5, "keypoints_coco": 2}[format_id]


def test_ann_to_mask_reproduces_the_canonical_mask_exactly(tmp_path):
    api = _load(tmp_path, "polygon_coco")
    ann = _annotation_of(api.dataset, "Bild ü.png", "café")
    canonical = canonical_images()[1].annotations[0].mask
    assert ann["iscrowd"] == 1
    assert np.array_equal(api.annToMask(ann), rle.decode(canonical))
    assert ann["area"] == rle.area(canonical) == 2700


@pytest.mark.parametrize("category, box, area", [
    ("traffic light", (300, 100, 340, 160), 1200),  # the triangle
    ("car", (0, 0, 50, 40), 2000),  # a box written as a rectangle polygon, touching the corner
])
def test_ann_to_mask_draws_polygons_where_they_are(tmp_path, category, box, area):
    api = _load(tmp_path, "polygon_coco")
    anns = [a for a in api.dataset["annotations"]
            if api.cats[a["category_id"]]["name"] == category
            and a["bbox"][:2] == [box[0], box[1]]]
    mask = api.annToMask(anns[0])
    ys, xs = np.nonzero(mask)
    # pycocotools rasterises to pixel edges, so allow one pixel around the shape.
    assert box[0] <= xs.min() and xs.max() <= box[2] and box[1] <= ys.min() and ys.max() <= box[3]
    assert mask.sum() == pytest.approx(area, rel=0.1)
    assert anns[0]["iscrowd"] == 0 and anns[0]["area"] == area


def _self_evaluation(api: COCO, iou_type: str) -> float:
    detections = []
    for ann in api.dataset["annotations"]:
        detection = {"image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0}
        if iou_type == "bbox":
            detection["bbox"] = ann["bbox"]
        elif iou_type == "segm":
            detection["segmentation"] = api.annToRLE(ann)
        else:
            detection["keypoints"] = ann["keypoints"]
        detections.append(detection)
    evaluator = COCOeval(api, api.loadRes(detections), iou_type)
    if iou_type == "keypoints":
        evaluator.params.kpt_oks_sigmas = np.full(3, 0.05)  # our skeleton has 3 points, not 17
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats[0]


@pytest.mark.parametrize("format_id, iou_type", [
    ("coco", "bbox"), ("polygon_coco", "bbox"), ("polygon_coco", "segm"),
    ("keypoints_coco", "keypoints"),
])
def test_cocoeval_of_the_export_against_itself_is_perfect(format_id, iou_type, tmp_path):
    assert _self_evaluation(_load(tmp_path, format_id), iou_type) == 1.0


def test_cocoeval_of_the_canonical_boxes_against_the_export_is_perfect(tmp_path):
    api = _load(tmp_path, "coco")
    ids = {i["file_name"]: i["id"] for i in api.dataset["images"]}
    categories = {c["name"]: c["id"] for c in api.dataset["categories"]}
    detections = [{"image_id": ids[image.file_name], "category_id": categories[a.label],
                   "bbox": [a.box[0], a.box[1], a.box[2] - a.box[0], a.box[3] - a.box[1]],
                   "score": 1.0}
                  for image in canonical_images() for a in image.annotations
                  if a.kind in ("box", "polygon", "keypoints")]
    evaluator = COCOeval(api, api.loadRes(detections), "bbox")
    evaluator.params.catIds = [categories[n] for n in ("car", "traffic light", "person")]
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert evaluator.stats[0] == 1.0


# --- what the files hold --------------------------------------------------------------------------

@pytest.mark.parametrize("format_id", VARIANTS)
def test_normalized_export_keeps_area_in_square_pixels(format_id, tmp_path):
    absolute = _document(tmp_path / "a", format_id)
    normalized = _document(tmp_path / "n", format_id, normalized=True)
    assert [a["area"] for a in normalized["annotations"]] == \
        [a["area"] for a in absolute["annotations"]]
    assert all(0 <= v <= 1 for a in normalized["annotations"] for v in a["bbox"])
    assert max(a["area"] for a in normalized["annotations"]) > 1000


def test_keypoints_with_visibility_0_are_written_as_zeros(tmp_path):
    ann = _annotation_of(_document(tmp_path, "keypoints_coco"), "street.jpg", "person")
    assert ann["keypoints"] == [430, 200, 2, 400, 300, 1, 0, 0, 0]
    assert ann["num_keypoints"] == 2  # counts v > 0, hidden (1) included


def test_the_writer_zeroes_unlabelled_keypoints_whatever_their_coordinates(tmp_path):
    # The pipeline already zeroes them; the writer must not depend on it (pycocotools' OKS and
    # loadRes take min/max over all points).
    image = ImageRecord("a.jpg", 100, 80, annotations=[Annotation(
        "person", "keypoints", box=(10.0, 10.0, 20.0, 30.0), area=200.0,
        keypoints=[Keypoint(10.0, 10.0, 2), Keypoint(55.0, 66.0, 0), Keypoint(20.0, 30.0, 1)])])
    target = tmp_path / "kp.zip"
    out = ZipOut(target, image_loader=lambda ref: io.BytesIO(b""))
    keypoints_coco.write_set(ExportSet(name="train", folder="top/train/", labels=LABELS,
                                       skeletons=SKELETONS, normalized=False,
                                       include_images=False, images=iter([image])), out)
    out.close()
    [ann] = json.loads(zip_members(str(target))["top/train/" + FILE])["annotations"]
    assert ann["keypoints"] == [10, 10, 2, 0, 0, 0, 20, 30, 1] and ann["num_keypoints"] == 2


def test_keypoint_categories_carry_names_and_a_1_based_skeleton(tmp_path):
    categories = _document(tmp_path, "keypoints_coco")["categories"]
    person = next(c for c in categories if c["name"] == "person")
    assert person["keypoints"] == ["head", "left_hand", "right_hand"]
    assert person["skeleton"] == [[1, 2], [1, 3]]
    assert all(c["keypoints"] == [] and c["skeleton"] == [] for c in categories if c is not person)


@pytest.mark.parametrize("format_id", VARIANTS)
def test_category_ids_are_1_based_in_label_order_in_every_set(format_id, tmp_path):
    members = _members(tmp_path, format_id, split_ratio=0.5)
    files = [name for name in members if name.endswith(FILE)]
    assert files == ["test/" + FILE, "train/" + FILE]
    for name in files:
        categories = json.loads(members[name])["categories"]
        assert [(c["id"], c["name"], c["supercategory"]) for c in categories] == \
            [(i, name, "none") for i, name in enumerate(CLASSES[format_id], start=1)]


def test_ids_start_at_1_in_each_set_and_follow_the_set_order(tmp_path):
    members = _members(tmp_path, "coco", split_ratio=0.5, shuffle=True, seed=7)
    names = {image.id: image.file_name for image in canonical_images()}
    order = order_and_split(list(names), ExportOptions(shuffle=True, seed=7, split_ratio=0.5))
    for set_name, ids in order.items():
        if not ids:
            assert not any(name.startswith(f"{set_name}/") for name in members)
            continue
        document = json.loads(members[f"{set_name}/{FILE}"])
        assert [(i["id"], i["file_name"]) for i in document["images"]] == \
            [(n, names[image_id]) for n, image_id in enumerate(ids, start=1)]
        assert [a["id"] for a in document["annotations"]] == \
            list(range(1, len(document["annotations"]) + 1))


def test_small_normalized_values_are_never_written_in_exponent_notation(tmp_path):
    wide = ImageRecord("wide.png", 100_000, 20, id=9, ref="wide.png", annotations=[
        Annotation("car", "box", box=(3.0, 2.0, 13.0, 7.0))])
    target = tmp_path / "wide.zip"
    export_canonical("coco", str(target), images=[wide], normalized=True)
    text = next(data for name, data in zip_members(str(target)).items()
                if name.endswith(FILE)).decode()
    assert '"bbox": [0.00003, 0.1, 0.0001, 0.25], "area": 50,' in text
    assert "e-" not in text


# --- reading --------------------------------------------------------------------------------------

def _coco_json(**changes) -> dict:
    document = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}],
        "categories": [{"id": 1, "name": "car"}],
        "annotations": [{"id": n, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]}
                        for n in (1, 2, 3)],
    }
    document.update(changes)
    return document


def _read(module, files: dict[str, object], sizes: dict | None = None, streamed: bool = False):
    """Read as the tests of exports do, or (`streamed`) as imports read a large file: parsed
    as a stream, images handed over one at a time (collected here)."""
    data = {path: (body if isinstance(body, bytes) else json.dumps(body).encode())
            for path, body in files.items()}
    context = ReadContext(image_sizes=sizes or {}, stream=streamed,
                          stream_bytes=0 if streamed else 1 << 30)
    result = module.read(MemorySource(data), context)
    result.images = list(result.images)
    return result


READING = pytest.mark.parametrize("streamed", [False, True], ids=["parsed", "streamed"])


@pytest.mark.parametrize("text, message", [
    # NaN is refused while parsing, before any record is looked at.
    (b'{"images": [], "categories": [], "annotations": [{"bbox": [NaN, 0, 1, 1]}]}',
     "x.json line 1: NaN is not a number JSON allows"),
    (json.dumps(_coco_json(images=[{"id": "1", "file_name": "a.jpg", "width": 2, "height": 2}])),
     'x.json: images record 1: id must be an integer, got "1"'),
    (json.dumps(_coco_json(annotations=[{"id": 1, "image_id": 1, "bbox": [0, 0, 1, 1]}])),
     "x.json: annotations record 1: missing key 'category_id'"),
    (json.dumps(_coco_json(annotations=[*_coco_json()["annotations"][:2],
                                        {"id": 3, "image_id": 99, "category_id": 1,
                                         "bbox": [0, 0, 1, 1]}])),
     "x.json: annotations record 3: image_id 99 is not in images"),
    (json.dumps(_coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 7,
                                         "bbox": [0, 0, 1, 1]}])),
     "x.json: annotations record 1: category_id 7 is not in categories"),
    (json.dumps(_coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                         "bbox": [0, 0, 1]}])),
     "x.json: annotations record 1: bbox must have 4 numbers, got 3"),
    (json.dumps(_coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                         "bbox": [0, "0", 1, 1]}])),
     'x.json: annotations record 1: bbox must hold only numbers, got "0"'),
    # 1e999 parses to infinity: refused like NaN, but by the record check.
    (json.dumps(_coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                         "bbox": [0, 0, 1, 1]}])).replace("[0, 0, 1, 1]",
                                                                          "[1e999, 0, 1, 1]"),
     "x.json: annotations record 1: bbox must hold only numbers, got Infinity"),
    (json.dumps(_coco_json(images={"id": 1})),
     'x.json: the file: images must be a list, got {"id": 1}'),
    (json.dumps(_coco_json(categories=[{"id": 1, "name": "car"}, {"id": 1, "name": "bus"}])),
     "x.json: categories record 2: id 1 is used by an earlier category"),
])
@READING
def test_reader_errors_name_the_file_the_record_and_the_problem(text, message, streamed):
    if streamed and ("NaN" in message or "Infinity" in message):  # refused while parsing
        message = {True: "x.json: invalid JSON: lexical error: invalid char in json text.",
                   False: "x.json: invalid JSON: parse error: numeric (floating point) "
                          "overflow"}["NaN" in message]
    with pytest.raises(FormatError) as caught:
        _read(coco, {"x.json": text.encode() if isinstance(text, str) else text},
              streamed=streamed)
    assert str(caught.value) == message


@pytest.mark.parametrize("text, message", [
    (b'{"images": [{"id": 1, "file_name": "a.jpg", "width": 2, "height": 2}], "categories": [],'
     b' "annotations": [{"id": 1, "image_id": 1, "category_id"',
     "x.json: invalid JSON: parse error: premature EOF"),
    (json.dumps({"images": [], "annotations": [], "categories": [], "extra": 1}).replace(
        '"annotations": []', '"annotations": 7'),
     "x.json: the file: annotations must be a list, got 7"),
])
def test_streamed_reader_names_the_file_of_a_truncated_or_malformed_upload(text, message):
    with pytest.raises(FormatError) as caught:
        _read(coco, {"x.json": text.encode() if isinstance(text, str) else text}, streamed=True)
    assert str(caught.value).startswith(message)


@READING
def test_reader_gives_each_image_with_its_annotations_in_any_record_order(streamed):
    document = _coco_json(
        images=[{"id": n, "file_name": f"{n}.jpg", "width": 200, "height": 100}
                for n in (1, 2, 3)],
        annotations=[{"id": n, "image_id": image_id, "category_id": 1, "bbox": [n, n, 5, 5]}
                     for n, image_id in enumerate([2, 1, 1, 2, 2], start=1)])
    result = _read(coco, {"x.json": document}, streamed=streamed)
    boxes: dict[str, list] = {}
    for image in result.images:
        boxes.setdefault(image.file_name, []).extend(a.box[0] for a in image.annotations)
    assert boxes == {"1.jpg": [2, 3], "2.jpg": [1, 4, 5], "3.jpg": []}
    # Parsed whole, an image comes once; streamed, once per run of consecutive annotations
    # (2 | 1 1 | 2 2), then the images without any.
    assert len(result.images) == (4 if streamed else 3)


def test_reader_refuses_an_upload_without_a_coco_file():
    with pytest.raises(FormatError, match="^upload: no COCO file found"):
        _read(coco, {"x.json": {"images": [], "annotations": []}})


@READING
def test_reader_refuses_a_mask_whose_size_is_not_the_image_size(streamed):
    document = _coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                        "bbox": [0, 0, 1, 1],
                                        "segmentation": {"size": [10, 10], "counts": [0, 100]}}])
    with pytest.raises(FormatError) as caught:
        _read(polygon_coco, {"x.json": document}, streamed=streamed)
    assert str(caught.value) == ("x.json: annotations record 1: mask size 10×10 differs from "
                                 "the image's 100×200")


@READING
def test_reader_accepts_instances_layout_folders_in_file_names_and_uncompressed_rle(streamed):
    grid = np.zeros((100, 200), dtype=np.uint8)
    grid[10:20, 30:50] = 1
    runs = rle.string_to_runs(rle.encode(grid).counts)
    document = _coco_json(
        images=[{"id": 5, "file_name": "val2017/a.jpg", "width": 200, "height": 100}],
        annotations=[{"id": 1, "image_id": 5, "category_id": 1, "bbox": [30, 10, 20, 10],
                      "iscrowd": 1, "segmentation": {"size": [100, 200], "counts": runs}}])
    result = _read(polygon_coco, {"annotations/instances_val2017.json": document},
                   streamed=streamed)
    [image] = result.images
    assert (image.file_name, image.width, image.height) == ("a.jpg", 200, 100)
    [mask] = image.annotations
    assert mask.kind == "mask" and mask.mask == rle.encode(grid)
    assert mask.box == (30, 10, 50, 20)


@READING
def test_reader_skips_rings_that_enclose_nothing_and_says_so(streamed):
    document = _coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                        "bbox": [10, 10, 20, 20],
                                        "segmentation": [[10, 10, 30, 30]]}])
    result = _read(polygon_coco, {"x.json": document}, streamed=streamed)
    [annotation] = result.images[0].annotations
    assert (annotation.kind, annotation.box) == ("box", (10, 10, 30, 30))
    assert result.notes == ["x.json: skipped 1 polygon(s) with fewer than 3 points"]


@READING
def test_reader_scales_normalized_files_by_the_image_size(streamed):
    document = _coco_json(annotations=[{"id": 1, "image_id": 1, "category_id": 1,
                                        "bbox": [0.1, 0.2, 0.5, 0.5],
                                        "segmentation": [[0.1, 0.2, 0.6, 0.2, 0.6, 0.7]]}])
    [image] = _read(polygon_coco, {"x.json": document}, streamed=streamed).images
    assert image.annotations[0].box == pytest.approx((20, 20, 120, 70))
    assert image.annotations[0].polygon == [pytest.approx([20, 20, 120, 20, 120, 70])]
    [plain] = _read(coco, {"x.json": _coco_json()}, streamed=streamed).images
    assert plain.annotations[0].box == (10, 10, 30, 30)  # pixels stay pixels


def test_keypoints_reader_takes_skeletons_from_categories_and_skeletons_json(tmp_path):
    members = _members(tmp_path, "keypoints_coco", split_ratio=0.34)
    result = keypoints_coco.read(MemorySource(members), ReadContext(image_sizes=image_sizes()))
    [skeleton] = result.skeletons
    assert (skeleton.label, skeleton.keypoints) == ("person", ["head", "left_hand", "right_hand"])
    assert skeleton.connections == [(0, 1), (0, 2)] and skeleton.flip_pairs == [(1, 2)]
    del members["skeletons.json"]
    [from_category] = keypoints_coco.read(MemorySource(members), ReadContext()).skeletons
    # COCO carries no flip pairs: left_hand / right_hand are paired by their names
    assert from_category.connections == [(0, 1), (0, 2)] and from_category.flip_pairs == [(1, 2)]


COCO_PERSON = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
               "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]


def test_coco_person_points_pair_as_ultralytics_flips_them():
    pairs = mirrored_pairs(COCO_PERSON)
    flip = list(range(17))
    for a, b in pairs:
        flip[a], flip[b] = b, a
    # Ultralytics' coco-pose.yaml flip_idx
    assert flip == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert mirrored_pairs(["head", "tail", "left_only"]) == []
    assert mirrored_pairs(["Left paw", "Right paw", "LEFT_EAR", "RIGHT_EAR"]) == [(0, 1), (2, 3)]


def test_keypoints_reader_refuses_a_skeleton_that_is_not_1_based():
    document = _coco_json(categories=[{"id": 1, "name": "person", "keypoints": ["a", "b"],
                                       "skeleton": [[0, 1]]}], annotations=[])
    with pytest.raises(FormatError) as caught:
        _read(keypoints_coco, {"x.json": document})
    assert str(caught.value) == ("x.json: categories record 1: skeleton pair [0, 1] is outside "
                                 "1..2 (skeleton indices count from 1)")


@pytest.mark.parametrize("changes, expected", [
    ({}, "coco"),  # boxes only
    ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                       "segmentation": [[0, 0, 1, 0, 1, 1]]}]}, "polygon_coco"),
    ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                       "segmentation": [[0, 0, 1, 0, 1, 1]], "keypoints": [1, 1, 2],
                       "num_keypoints": 1}]}, "keypoints_coco"),
    ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                       "num_keypoints": 0}]}, "keypoints_coco"),  # either key tells
    ({"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1],
                       "keypoints": [1, 1, 2]}]}, "keypoints_coco"),
])
def test_detect_prefers_the_richest_variant_the_file_holds(changes, expected):
    source = MemorySource({"any name.json": json.dumps(_coco_json(**changes)).encode()})
    scores = {m.SPEC.id: m.detect(source) for m in (coco, polygon_coco, keypoints_coco)}
    assert max(scores, key=scores.get) == expected
    assert min(scores.values()) > 0  # every variant can read any COCO file


def test_detect_ignores_json_that_is_not_coco():
    source = MemorySource({"a.json": b'{"shapes": [], "imagePath": "a.jpg"}',
                           "manifest.json": json.dumps(_coco_json()).encode()})
    assert [m.detect(source) for m in (coco, polygon_coco, keypoints_coco)] == [0, 0, 0]
