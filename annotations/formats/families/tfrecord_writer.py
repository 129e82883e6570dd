"""What the four TFRecord formats share on the writing side (TensorFlow Object Detection API keys).

    <top>/train/train.tfrecord      one tf.train.Example per image, in the set's order
    <top>/train/label_map.pbtxt     item { name: "car" id: 1 } blocks, dataset label order
    <top>/test/test-00000-of-00002.tfrecord   a set over SHARD_LIMIT bytes is sharded

TensorFlow is imported only inside `import_tf`, called from the writers and readers: a TF
initialised in the Django parent process hangs the forked django-q2 workers (STACK.md). Variant
modules build plain `{key: (kind, values)}` dicts; only this module turns them into protos.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from annotations.formats.io.source import Source
from annotations.formats.naming import split_name
from annotations.formats.records import Annotation, ImageRecord
from annotations.formats.spec import ExportSet, ZipSink

SHARD_LIMIT = 1 << 30  # bytes; a module constant so tests can shard with a tiny limit
RECORD_EXTENSIONS = (".tfrecord", ".tfrecords", ".record")
LABEL_MAP = "label_map.pbtxt"
NORMALIZED_WARNING = ("The TF Object Detection API expects normalized boxes; absolute pixels "
                      "will not train.")
FRAME_BYTES = 16  # TFRecord framing per record: length (8), its CRC (4), the data's CRC (4)

Features = dict[str, tuple[str, list]]  # key -> ("bytes" | "int" | "float", values)
ObjectFeatures = Callable[[ImageRecord, ExportSet], Features]


def import_tf() -> Any:
    """TensorFlow, imported late and quietly (no oneDNN banner, no C++ info logs)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    return tf


def write_records(export_set: ExportSet, out: ZipSink, object_features: ObjectFeatures) -> None:
    """Stream the set's images into TFRecord file(s), one Example per image, plus the label map."""
    tf = import_tf()
    out.add_bytes(export_set.folder + LABEL_MAP, label_map_text(export_set.label_names))
    shards = _Shards(tf, out)
    try:
        for image in export_set.images:
            data = out.read_image(image.ref)
            features = image_features(image, data)
            features.update(object_features(image, export_set))
            # deterministic=True sorts the feature map, so two exports give identical bytes.
            shards.write(to_example(tf, features).SerializeToString(deterministic=True))
    finally:
        shards.close()
    shards.register(export_set.folder, export_set.name)


class _Shards:
    """Writes records to work files, starting a new file once the current one passes the limit."""

    def __init__(self, tf: Any, out: ZipSink) -> None:
        self._tf, self._out = tf, out
        self._writer: Any = None
        self._size = 0
        self.paths: list[str] = []

    def write(self, record: bytes) -> None:
        if self._writer is None:
            self._open()
        self._writer.write(record)
        self._size += len(record) + FRAME_BYTES
        if self._size > SHARD_LIMIT:
            self._writer.close()
            self._writer = None

    def _open(self) -> None:
        self.paths.append(self._out.new_work_path())
        self._writer = self._tf.io.TFRecordWriter(self.paths[-1])
        self._size = 0

    def close(self) -> None:
        if self._writer is None and not self.paths:
            self._open()  # a set always has its file, even with no records
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def register(self, folder: str, set_name: str) -> None:
        count = len(self.paths)
        if count == 1:
            self._out.add_spooled_file(f"{folder}{set_name}.tfrecord", self.paths[0])
            return
        for index, path in enumerate(self.paths):
            self._out.add_spooled_file(f"{folder}{shard_name(set_name, index, count)}", path)


def shard_name(set_name: str, index: int, count: int) -> str:
    return f"{set_name}-{index:05d}-of-{count:05d}.tfrecord"


def to_example(tf: Any, features: Features) -> Any:
    makers = {
        "bytes": lambda v: tf.train.Feature(bytes_list=tf.train.BytesList(value=v)),
        "int": lambda v: tf.train.Feature(int64_list=tf.train.Int64List(value=v)),
        "float": lambda v: tf.train.Feature(float_list=tf.train.FloatList(value=v)),
    }
    feature = {key: makers[kind](values) for key, (kind, values) in features.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature))


def image_features(image: ImageRecord, data: bytes) -> Features:
    source_id = str(image.id) if image.id is not None else image.file_name
    return {
        "image/encoded": ("bytes", [data]),
        "image/format": ("bytes", [image_format(data, image.file_name).encode()]),
        "image/filename": ("bytes", [image.file_name.encode()]),
        "image/source_id": ("bytes", [source_id.encode()]),
        # The hash of the bytes embedded here, not a stored value that might describe another file.
        "image/key/sha256": ("bytes", [hashlib.sha256(data).hexdigest().encode()]),
        "image/height": ("int", [image.height]),
        "image/width": ("int", [image.width]),
    }


def image_format(data: bytes, file_name: str) -> str:
    """`jpeg` or `png` from the bytes' signature; the extension only when the bytes are neither."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    ext = split_name(file_name)[1].lower().lstrip(".")
    return {"jpg": "jpeg", "jpe": "jpeg", "": "jpeg"}.get(ext, ext)


def box_features(annotations: list[Annotation], export_set: ExportSet) -> Features:
    """bbox/xmin,xmax,ymin,ymax and class text/label (1-based) for each object, in order."""
    digits = 6 if export_set.normalized else 2
    boxes = [a.box or (0.0, 0.0, 0.0, 0.0) for a in annotations]  # keypoints may have no box
    return {
        "image/object/bbox/xmin": ("float", [round(b[0], digits) for b in boxes]),
        "image/object/bbox/xmax": ("float", [round(b[2], digits) for b in boxes]),
        "image/object/bbox/ymin": ("float", [round(b[1], digits) for b in boxes]),
        "image/object/bbox/ymax": ("float", [round(b[3], digits) for b in boxes]),
        "image/object/class/text": ("bytes", [a.label.encode() for a in annotations]),
        "image/object/class/label": ("int", [export_set.class_index[a.label] + 1
                                             for a in annotations]),
    }


def label_map_text(names: list[str]) -> str:
    return "".join(f'item {{\n  name: "{_escape(name)}"\n  id: {index}\n}}\n'
                   for index, name in enumerate(names, start=1))


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def is_record_file(path: str) -> bool:
    return path.lower().endswith(RECORD_EXTENSIONS)


def detect_variant(source: Source, format_id: str) -> int:
    """95 when the first record's keys are this variant's, 0 for another variant's."""
    records = [p for p in source.files() if is_record_file(p)]
    if not records:
        return 0
    for path in sorted(records, key=source.size):  # the smallest file is the cheapest peek
        keys = first_record_keys(source.read(path))
        if keys:
            return 95 if variant_of(keys) == format_id else 0
    return 40 if format_id == "tfrecord" else 0  # TFRecord files we could not look into


def variant_of(keys: set[str]) -> str:
    if any(k.startswith("image/object/keypoint/") for k in keys):
        return "keypoints_tfrecord"
    if "image/object/mask" in keys:
        return "polygon_tfrecord"
    has_objects = any(k.startswith("image/object/") for k in keys)
    if not has_objects and ("image/class/label" in keys or "image/class/text" in keys):
        return "classification_tfrecord"
    return "tfrecord"


def first_record_keys(data: bytes) -> set[str] | None:
    """The feature keys of the first record (Example.features.feature map keys), or None."""
    if len(data) < 12:
        return None
    length = int.from_bytes(data[:8], "little")
    payload = data[12:12 + length]
    if len(payload) < length:
        return None
    try:
        return {key.decode("utf-8")
                for number, features in _fields(payload) if number == 1
                for number2, entry in _fields(features) if number2 == 1
                for number3, key in _fields(entry) if number3 == 1}
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _fields(buffer: bytes) -> Iterator[tuple[int, bytes]]:
    """(field number, payload) of each length-delimited field of a protobuf message."""
    position = 0
    while position < len(buffer):
        tag, position = _varint(buffer, position)
        wire = tag & 7
        if wire == 2:
            size, position = _varint(buffer, position)
            if position + size > len(buffer):
                raise ValueError("a field runs past the end of its message")
            yield tag >> 3, buffer[position:position + size]
            position += size
        elif wire == 0:
            position = _varint(buffer, position)[1]
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than 10 bytes")
