"""TFRecord (TensorFlow Object Detection API): one tf.train.Example per image, boxes as fractions.

    <top>/train/train.tfrecord      image/encoded, image/format, image/filename, image/source_id,
                                    image/key/sha256, image/height, image/width,
                                    image/object/bbox/xmin,xmax,ymin,ymax, image/object/class/text,
                                    image/object/class/label (label-map id, from 1)
    <top>/train/label_map.pbtxt     item {\\n  name: "car"\\n  id: 1\\n}

A set over 1 GiB is sharded as `<set>-00000-of-00003.tfrecord` (tfrecord_writer.SHARD_LIMIT).
"""

from __future__ import annotations

from annotations.formats.families import tfrecord_reader, tfrecord_writer
from annotations.formats.families.tfrecord_reader import LabelNames, RecordView
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, tfrecord_format

SPEC = tfrecord_format(
    "tfrecord", "TFRecord", "boxes",
    "tf.train.Example records with the images embedded and a label map; the "
    "TensorFlow Object Detection API trains on them.",
    normalized_warning=tfrecord_writer.NORMALIZED_WARNING,
)


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    tfrecord_writer.write_records(export_set, out, _object_features)


def _object_features(image: ImageRecord, export_set: ExportSet) -> tfrecord_writer.Features:
    return tfrecord_writer.box_features(image.annotations, export_set)


def detect(source: Source) -> int:
    return tfrecord_writer.detect_variant(source, SPEC.id)


def read(source: Source, context: ReadContext) -> ReadResult:
    return tfrecord_reader.read_variant(source, context, _fill)


def _fill(view: RecordView, names: LabelNames, image: ImageRecord) -> None:
    image.annotations = [Annotation(label=label, kind="box", box=box)
                         for label, box in read_boxes(view, names)]


def read_boxes(view: RecordView, names: LabelNames) -> list[tuple[str, tuple]]:
    """(label, (xmin, ymin, xmax, ymax)) per object, as stored (fractions or pixels)."""
    columns = [view.floats(f"image/object/bbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
    count = len(columns[0])
    if any(len(c) != count for c in columns):
        raise view.error("the image/object/bbox/* lists have different lengths")
    labels = names.names(view, "image/object/class/text", "image/object/class/label", count)
    return list(zip(labels, zip(*columns)))
