"""TFRecord Keypoints: the `tfrecord` layout plus keypoint keys, as the OD API's COCO converter.

    <top>/skeletons.json            FORMATS.md §5 (written by the pipeline)
    <top>/train/train.tfrecord      the `tfrecord` keys (the instance box), plus
                                    image/object/keypoint/x, /y   flattened, object-major
                                    image/object/keypoint/visibility   int64, 0/1/2 as COCO
                                    image/object/keypoint/num     labelled points per object
                                    image/object/keypoint/text    point names, one per point
    <top>/train/label_map.pbtxt

Points with visibility 0 are written x = y = 0. On import an object's points are cut from the
flat lists by its label's skeleton (skeletons.json when present), else evenly per object, as the
OD API does (it reshapes to [objects, points]).
"""

from __future__ import annotations

import posixpath

from annotations.formats.builtin.tfrecord import read_boxes
from annotations.formats.families import tfrecord_reader, tfrecord_writer
from annotations.formats.families.skeletons_file import read_skeletons_file
from annotations.formats.families.tfrecord_reader import LabelNames, RecordView
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, Keypoint, ReadResult, Skeleton
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, tfrecord_format

SPEC = tfrecord_format(
    "keypoints_tfrecord", "TFRecord Keypoints", "keypoints",
    "tf.train.Example records with the images embedded, instance boxes and "
    "keypoints; the TensorFlow Object Detection API trains keypoint models on them.",
    ships_skeletons=True,
    normalized_warning="The TF Object Detection API expects normalized keypoints; absolute "
    "pixels will not train.",
)
KEY = "image/object/keypoint/"


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    tfrecord_writer.write_records(export_set, out, _object_features)


def _object_features(image: ImageRecord, export_set: ExportSet) -> tfrecord_writer.Features:
    digits = 6 if export_set.normalized else 2
    names = {s.label: s.keypoints for s in export_set.skeletons}
    xs, ys, visibility, texts, counts = [], [], [], [], []
    for a in image.annotations:
        points = a.keypoints or []
        point_names = names.get(a.label, [])
        for index, p in enumerate(points):
            shown = p.visibility > 0
            xs.append(round(p.x, digits) if shown else 0.0)
            ys.append(round(p.y, digits) if shown else 0.0)
            visibility.append(max(p.visibility, 0))
            # A point the skeleton does not name is named by its index (never seen in practice).
            name = point_names[index] if index < len(point_names) else str(index)
            texts.append(name.encode())
        counts.append(sum(1 for p in points if p.visibility > 0))
    features = tfrecord_writer.box_features(image.annotations, export_set)
    features.update({KEY + "x": ("float", xs), KEY + "y": ("float", ys),
                     KEY + "visibility": ("int", visibility), KEY + "num": ("int", counts),
                     KEY + "text": ("bytes", texts)})
    return features


def detect(source: Source) -> int:
    return tfrecord_writer.detect_variant(source, SPEC.id)


def read(source: Source, context: ReadContext) -> ReadResult:
    shipped = read_skeletons(source)
    sizes = {s.label: len(s.keypoints) for s in shipped}
    seen: dict[str, list[str]] = {}

    def fill(view: RecordView, names: LabelNames, image: ImageRecord) -> None:
        _fill(view, names, image, sizes, seen)

    result = tfrecord_reader.read_variant(source, context, fill)
    result.skeletons = shipped or [Skeleton(label=label, keypoints=points)
                                   for label, points in seen.items()]
    return result


def _fill(view: RecordView, names: LabelNames, image: ImageRecord, sizes: dict[str, int],
          seen: dict[str, list[str]]) -> None:
    boxes = read_boxes(view, names)
    xs, ys = view.floats(KEY + "x"), view.floats(KEY + "y")
    visibility = view.ints(KEY + "visibility") or [2] * len(xs)
    texts = view.strings(KEY + "text")
    if not len(xs) == len(ys) == len(visibility):
        raise view.error("the keypoint x, y and visibility lists have different lengths")
    start = 0
    for label, box in boxes:
        count = _points_per_object(view, label, len(boxes), len(xs), sizes)
        points = [Keypoint(x, y, v) if v > 0 else Keypoint(0.0, 0.0, 0)
                  for x, y, v in zip(xs[start:start + count], ys[start:start + count],
                                     visibility[start:start + count])]
        if len(texts) == len(xs):
            seen.setdefault(label, texts[start:start + count])
        has_box = any(box) or any(p.visibility > 0 for p in points)
        image.annotations.append(Annotation(label=label, kind="keypoints",
                                            box=box if has_box else None, keypoints=points))
        start += count
    if start != len(xs):
        raise view.error(f"{len(xs)} keypoints do not divide among {len(boxes)} objects")


def _points_per_object(view: RecordView, label: str, objects: int, total: int,
                       sizes: dict[str, int]) -> int:
    if label in sizes:
        return sizes[label]
    if total % objects:
        raise view.error(f"{total} keypoints do not divide evenly among {objects} objects "
                         "(and no skeletons.json says how many each label has)")
    return total // objects


def read_skeletons(source: Source) -> list[Skeleton]:
    """The skeletons.json shipped beside the sets (FORMATS.md §5), if there is one."""
    paths = [p for p in source.files() if posixpath.basename(p) == "skeletons.json"]
    return read_skeletons_file(source, paths[0]) if paths else []
