"""TFRecord Classification: one tf.train.Example per tagged image, image-level classes only.

    <top>/train/train.tfrecord      the image keys of `tfrecord`, plus image/class/label (int64,
                                    label-map id, from 1) and image/class/text, one per tag, in
                                    the image's tag order; no image/object/* keys
    <top>/train/label_map.pbtxt

Images without a tag are not written (the pipeline lists them in `left_out`, "no class").
"""

from __future__ import annotations

from annotations.formats.families import tfrecord_reader, tfrecord_writer
from annotations.formats.families.tfrecord_reader import LabelNames, RecordView
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, tfrecord_format

SPEC = tfrecord_format(
    "classification_tfrecord", "TFRecord Classification", "classification",
    "tf.train.Example records with the images embedded and their class ids and "
    "names; for TensorFlow image classifiers.",
    normalized=None, skips_empty=True,
)
LABEL_KEY = "image/class/label"
TEXT_KEY = "image/class/text"


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    tfrecord_writer.write_records(export_set, out, _class_features)


def _class_features(image: ImageRecord, export_set: ExportSet) -> tfrecord_writer.Features:
    tags = [a.label for a in image.annotations]
    return {
        LABEL_KEY: ("int", [export_set.class_index[label] + 1 for label in tags]),
        TEXT_KEY: ("bytes", [label.encode() for label in tags]),
    }


def detect(source: Source) -> int:
    return tfrecord_writer.detect_variant(source, SPEC.id)


def read(source: Source, context: ReadContext) -> ReadResult:
    return tfrecord_reader.read_variant(source, context, _fill)


def _fill(view: RecordView, names: LabelNames, image: ImageRecord) -> None:
    count = max(len(view.values(LABEL_KEY, "int")), len(view.values(TEXT_KEY, "bytes")))
    image.annotations = [Annotation(label=label, kind="tag")
                         for label in names.names(view, TEXT_KEY, LABEL_KEY, count)]
