"""Reading TFRecord uploads, shared by the four variants: records, label map, normalisation.

Records are read with TensorFlow (`tf.data.TFRecordDataset`, so truncated files and bad CRCs are
caught the way TF training would catch them) and parsed with `tf.train.Example.FromString`.
Detection is in tfrecord_writer: it walks the protobuf wire format of the first record, so
recognising an upload never loads TensorFlow.
"""

from __future__ import annotations

import functools
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterator

from annotations.formats.errors import FormatError
from annotations.formats.families.tfrecord_writer import (
    FRAME_BYTES,
    LABEL_MAP,
    import_tf,
    is_record_file,
)
from annotations.formats.io.source import Source
from annotations.formats.records import ImageRecord, ReadResult
from annotations.formats.spec import ReadContext

KINDS = {"bytes_list": "bytes", "int64_list": "int", "float_list": "float"}


class RecordView:
    """One parsed record: typed access to its features, errors that name file and record."""

    def __init__(self, path: str, number: int, features: dict[str, tuple[str, list]]) -> None:
        self.path, self.number, self.features = path, number, features

    def error(self, message: str) -> FormatError:
        return FormatError(self.path, message, record=self.number)

    def values(self, key: str, kind: str) -> list:
        found_kind, values = self.features.get(key, (kind, []))
        if found_kind != kind and values:
            raise self.error(f"{key} holds {found_kind} values; {kind} values were expected")
        return values

    def strings(self, key: str) -> list[str]:
        try:
            return [value.decode("utf-8") for value in self.values(key, "bytes")]
        except UnicodeDecodeError:
            raise self.error(f"{key} is not UTF-8 text") from None

    def string(self, key: str) -> str:
        values = self.strings(key)
        return values[0].strip() if values else ""

    def ints(self, key: str) -> list[int]:
        return [int(v) for v in self.values(key, "int")]

    def floats(self, key: str) -> list[float]:
        import numpy as np  # only where a TFRecord is read: detecting a format must not load it

        # The file holds float32: its shortest decimal gives back the value that was written.
        values = np.asarray(self.values(key, "float"), dtype=np.float32)
        if not np.isfinite(values).all():
            raise self.error(f"{key} holds NaN or an infinite value")
        return [float(str(v)) for v in values]


# A variant's part of reading a record: its objects added to the record's image (base_image).
Filler = Callable[[RecordView, "LabelNames", ImageRecord], None]


class LabelNames:
    """Class names for ids: the label map first, then the dataset's order (1-based ids)."""

    def __init__(self, by_id: dict[int, str], fallback: list[str]) -> None:
        self.by_id, self.fallback = by_id, fallback

    def names(self, view: RecordView, text_key: str, label_key: str, count: int) -> list[str]:
        texts = [t.strip() for t in view.strings(text_key)]
        if len(texts) == count and all(texts):
            return texts
        ids = view.ints(label_key)
        if len(ids) != count:
            raise view.error(f"{count} objects but {len(ids)} values in {label_key}")
        return [self._name(view, i) for i in ids]

    def _name(self, view: RecordView, class_id: int) -> str:
        if class_id in self.by_id:
            return self.by_id[class_id]
        if 1 <= class_id <= len(self.fallback):
            return self.fallback[class_id - 1]
        raise view.error(f"class id {class_id} is not in the label map")


def read_variant(source: Source, context: ReadContext, fill: Filler) -> ReadResult:
    """Every record of every TFRecord file as an image, its objects added by `fill`, with
    coordinates in pixels."""
    files = source.files()
    label_map = read_label_map(source, files)
    names = LabelNames(label_map, list(context.labels))
    images = []
    for path in files:
        if is_record_file(path):
            for view in iter_records(source, path):
                image = base_image(view, context)
                fill(view, names, image)
                images.append(image)
    # Writers following the OD API store fractions; a file with any value above 1 holds pixels.
    if _looks_normalized(images):
        for image in images:
            _scale(image)
    _fill_mask_boxes(images)
    labels = [label_map[i] for i in sorted(label_map)] or _first_seen(images)
    return ReadResult(images=images, labels=labels)


def iter_records(source: Source, path: str) -> Iterator[RecordView]:
    tf = import_tf()
    data = source.read(path)
    with tempfile.NamedTemporaryFile(suffix=".tfrecord") as handle:
        handle.write(data)  # TF reads files only; readers never open upload paths
        handle.flush()
        records = iter(tf.data.TFRecordDataset(handle.name))
        number, consumed = 0, 0
        while True:
            number += 1
            try:
                raw = next(records).numpy()
            except StopIteration:
                break
            except tf.errors.DataLossError as exc:
                raise FormatError(path, _data_loss(exc.message or ""), record=number) from None
            consumed += len(raw) + FRAME_BYTES
            yield RecordView(path, number, _features(tf, raw, path, number))
    if consumed != len(data):  # TF stops quietly when a file ends inside a record's header
        raise FormatError(path, f"the file is truncated: it ends inside this record's header "
                          f"({len(data) - consumed} bytes left over)", record=number)


def _data_loss(message: str) -> str:
    """TF's DataLossError says "corrupted record at 12" inside op noise; keep what matters."""
    found = re.search(r"(truncated|corrupted) record at (\d+)", message)
    if found is None:
        return "the file is truncated or corrupted"
    if found.group(1) == "truncated":
        return f"the file is truncated: it ends inside this record (which starts at byte " \
               f"{found.group(2)})"
    return f"the record is corrupted: a checksum does not match (record at byte {found.group(2)})"


def _features(tf, data: bytes, path: str, number: int) -> dict[str, tuple[str, list]]:
    from google.protobuf.message import DecodeError

    try:
        example = tf.train.Example.FromString(data)
    except DecodeError:
        raise FormatError(path, "the record is not a tf.train.Example", record=number) from None
    features = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        features[key] = (KINDS[kind], list(getattr(feature, kind).value)) if kind else ("", [])
    return features


def base_image(view: RecordView, context: ReadContext) -> ImageRecord:
    """The image keys of a record; a missing size comes from the dataset's image of that name."""
    file_name = view.string("image/filename") or view.string("image/source_id")
    if not file_name:
        raise view.error("the record names no image (image/filename is empty)")
    heights, widths = view.ints("image/height"), view.ints("image/width")
    width, height = (widths[0] if widths else 0), (heights[0] if heights else 0)
    if width <= 0 or height <= 0:
        width, height = context.size_of(file_name) or (0, 0)
    return ImageRecord(file_name=file_name, width=width, height=height)


def _coordinates(image: ImageRecord) -> Iterator[float]:
    for a in image.annotations:
        if a.box is not None:
            yield from a.box
        for p in a.keypoints or ():
            yield from (p.x, p.y)


def _looks_normalized(images: list[ImageRecord]) -> bool:
    values = [v for image in images for v in _coordinates(image)]
    return bool(values) and max(values) <= 1.0


def _scale(image: ImageRecord) -> None:
    if not any(True for _ in _coordinates(image)):
        return
    w, h = image.width, image.height
    if w <= 0 or h <= 0:
        raise FormatError(image.file_name, "coordinates are fractions but the image size is "
                          "unknown (no image/width, image/height)")
    for a in image.annotations:
        if a.box is not None:
            a.box = (a.box[0] * w, a.box[1] * h, a.box[2] * w, a.box[3] * h)
        for p in a.keypoints or ():
            p.x, p.y = p.x * w, p.y * h


def _fill_mask_boxes(images: list[ImageRecord]) -> None:
    from annotations.formats.families.rle import rle_box

    for image in images:
        for a in image.annotations:
            if a.kind == "mask" and a.box is None and a.mask is not None:
                a.box = rle_box(a.mask)


def _first_seen(images: list[ImageRecord]) -> list[str]:
    return list(dict.fromkeys(a.label for image in images for a in image.annotations))


def read_label_map(source: Source, files: list[str]) -> dict[int, str]:
    """{id: name} from the first label_map.pbtxt (every set folder holds the same one)."""
    paths = [p for p in files if posixpath.basename(p) == LABEL_MAP] or \
            [p for p in files if p.endswith(".pbtxt")]
    return parse_label_map(source.text(paths[0]), paths[0]) if paths else {}


def parse_label_map(text: str, path: str) -> dict[int, str]:
    from google.protobuf import text_format

    message = label_map_class()()
    try:
        # OD API label maps may carry keypoints, frequency, ancestors: skipped, not refused.
        text_format.Parse(text, message, allow_unknown_field=True)
    except text_format.ParseError as exc:
        raise FormatError(path, str(exc), line=exc.GetLine()) from None
    by_id: dict[int, str] = {}
    for item in message.item:
        name = (item.name or item.display_name).strip()
        if item.id in by_id:
            raise FormatError(path, f"id {item.id} is given to two items")
        if not name:
            raise FormatError(path, f"the item with id {item.id} has no name")
        by_id[item.id] = name
    return by_id


@functools.cache
def label_map_class() -> type:
    """The OD API's StringIntLabelMap message (fields as in string_int_label_map.proto), built
    here so that neither reading nor the tests need the OD API installed."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="nexus_label_map.proto",
                                               package="nexus_label_map", syntax="proto2")
    item = proto.message_type.add(name="StringIntLabelMapItem")
    for number, (name, kind) in enumerate((("name", field.TYPE_STRING), ("id", field.TYPE_INT32),
                                           ("display_name", field.TYPE_STRING)), start=1):
        item.field.add(name=name, number=number, type=kind, label=field.LABEL_OPTIONAL)
    top = proto.message_type.add(name="StringIntLabelMap")
    top.field.add(name="item", number=1, type=field.TYPE_MESSAGE, label=field.LABEL_REPEATED,
                  type_name=".nexus_label_map.StringIntLabelMapItem")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("nexus_label_map.StringIntLabelMap"))
