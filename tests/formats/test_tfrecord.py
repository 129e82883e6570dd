"""The four TFRecord formats, checked the way their consumers read them.

TensorFlow parses every record with the feature spec the TF Object Detection API's TfExampleDecoder
declares, decodes the embedded images and PNG masks, and the label map parses as the OD API's
StringIntLabelMap text proto. TensorFlow is imported once, by the module fixture, never at import:
the formats library must stay importable without it (STACK.md).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotations.formats import registry
from annotations.formats.errors import FormatError
from annotations.formats.families import rle, tfrecord_reader, tfrecord_writer
from annotations.formats.io.source import MemorySource, ZipSource
from annotations.formats.records import Label
from annotations.formats.spec import ReadContext

from .canonical import (
    CLASSES,
    LABELS,
    SKELETONS,
    canonical_images,
    export_canonical,
    image_sizes,
    zip_members,
)

VARIANTS = ["tfrecord", "polygon_tfrecord", "classification_tfrecord", "keypoints_tfrecord"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tf():
    return tfrecord_writer.import_tf()


@pytest.fixture(scope="module")
def exports(tmp_path_factory, tf) -> dict[str, dict[str, bytes]]:
    """Each variant exported once (normalized, as the OD API wants), by set-relative path."""
    folder = tmp_path_factory.mktemp("tfrecord")
    found = {}
    for format_id in VARIANTS:
        target = folder / f"{format_id}.zip"
        export_canonical(format_id, str(target), normalized=True, split_ratio=0.34)
        found[format_id] = {name.split("/", 1)[1]: data
                            for name, data in zip_members(str(target)).items()}
    return found


def od_api_feature_spec(tf) -> dict:
    """keys_to_features as TfExampleDecoder declares them (keypoints on, PNG instance masks)."""
    fixed, var = tf.io.FixedLenFeature, tf.io.VarLenFeature
    return {
        "image/encoded": fixed((), tf.string, default_value=""),
        "image/format": fixed((), tf.string, default_value="jpeg"),
        "image/filename": fixed((), tf.string, default_value=""),
        "image/key/sha256": fixed((), tf.string, default_value=""),
        "image/source_id": fixed((), tf.string, default_value=""),
        "image/height": fixed((), tf.int64, default_value=1),
        "image/width": fixed((), tf.int64, default_value=1),
        "image/class/text": var(tf.string),
        "image/class/label": var(tf.int64),
        "image/object/bbox/xmin": var(tf.float32),
        "image/object/bbox/xmax": var(tf.float32),
        "image/object/bbox/ymin": var(tf.float32),
        "image/object/bbox/ymax": var(tf.float32),
        "image/object/class/label": var(tf.int64),
        "image/object/class/text": var(tf.string),
        "image/object/area": var(tf.float32),
        "image/object/is_crowd": var(tf.int64),
        "image/object/difficult": var(tf.int64),
        "image/object/keypoint/x": var(tf.float32),
        "image/object/keypoint/y": var(tf.float32),
        "image/object/keypoint/visibility": var(tf.int64),
        "image/object/mask": var(tf.string),
    }


def raw_records(tf, data: bytes) -> list[bytes]:
    with tempfile.NamedTemporaryFile(suffix=".tfrecord") as handle:
        handle.write(data)
        handle.flush()
        return [raw.numpy() for raw in tf.data.TFRecordDataset(handle.name)]


def parsed_records(tf, data: bytes) -> list[dict]:
    """Every record of a TFRecord file, parsed with the OD API spec, as numpy values."""
    spec = od_api_feature_spec(tf)
    records = []
    for raw in raw_records(tf, data):
        parsed = tf.io.parse_single_example(raw, spec)
        records.append({key: (tf.sparse.to_dense(value) if isinstance(value, tf.SparseTensor)
                              else value).numpy() for key, value in parsed.items()})
    return records


def records_by_file(tf, members: dict[str, bytes]) -> dict[str, dict]:
    return {record["image/filename"].decode(): record
            for name, data in members.items() if name.endswith(".tfrecord")
            for record in parsed_records(tf, data)}


@pytest.mark.parametrize("format_id", VARIANTS)
def test_every_record_parses_with_the_od_api_decoder_spec(format_id, exports, tf):
    members = exports[format_id]
    records = records_by_file(tf, members)
    expected = {i.file_name: i for i in canonical_images()}
    if format_id == "classification_tfrecord":
        expected.pop("empty.jpg")  # no tag: not written
    assert sorted(records) == sorted(expected)
    for name, record in records.items():
        image = expected[name]
        assert record["image/source_id"] == str(image.id).encode()
        pixels = tf.io.decode_image(record["image/encoded"], channels=3).numpy()
        assert pixels.shape[:2] == (record["image/height"], record["image/width"])
        assert (record["image/width"], record["image/height"]) == (image.width, image.height)
        assert record["image/key/sha256"] == hashlib.sha256(record["image/encoded"]).hexdigest() \
            .encode()
        assert record["image/format"] == (b"png" if name.endswith(".png") else b"jpeg")
        boxes = [record[f"image/object/bbox/{k}"] for k in ("xmin", "ymin", "xmax", "ymax")]
        assert all(((b >= 0) & (b <= 1)).all() for b in boxes), "normalized boxes"
        ids = record["image/object/class/label"].tolist() + record["image/class/label"].tolist()
        texts = record["image/object/class/text"].tolist() + record["image/class/text"].tolist()
        names = CLASSES[registry.get_spec(format_id).family]
        assert [names[i - 1].encode() for i in ids] == texts


def test_box_records_hold_the_family_boxes_as_fractions(exports, tf):
    street = records_by_file(tf, exports["tfrecord"])["street.jpg"]
    assert street["image/object/class/text"].tolist() == [
        b"car", b"car", b"traffic light", b"traffic light", b"person"]
    # Rounded to 6 decimals (FORMATS.md §1), then stored as float32.
    assert street["image/object/bbox/xmax"][0] == np.float32(round(110.5 / 640, 6))
    assert street["image/object/bbox/ymax"][2] == 1.0  # clamped to the edge, exactly
    assert "image/object/mask" not in od_keys_present(exports["tfrecord"])


def od_keys_present(members: dict[str, bytes]) -> set[str]:
    data = next(v for k, v in members.items() if k.endswith(".tfrecord"))
    return tfrecord_writer.first_record_keys(data) or set()


def test_polygon_masks_are_image_sized_pngs_equal_to_the_canonical_shapes(exports, tf):
    records = records_by_file(tf, exports["polygon_tfrecord"])
    masks = {name: [tf.io.decode_png(png, channels=1).numpy()[:, :, 0]
                    for png in record["image/object/mask"]]
             for name, record in records.items()}
    plaza = next(i for i in canonical_images() if i.file_name == "Bild ü.png")
    assert len(masks["Bild ü.png"]) == 1
    np.testing.assert_array_equal(masks["Bild ü.png"][0], rle.decode(plaza.annotations[0].mask))
    car, corner_car, light, triangle = masks["street.jpg"]  # the keypoints are not polygons
    assert all(m.shape == (480, 640) and set(np.unique(m)) <= {0, 1} for m in masks["street.jpg"])
    expected = np.zeros((480, 640), np.uint8)
    expected[0:40, 0:50] = 1  # box (0, 0, 50, 40): exactly its pixels
    np.testing.assert_array_equal(corner_car, expected)
    assert light[440:, 600:].all() and light.sum() == 40 * 40
    assert car.sum() == (111 - 10) * (220 - 20)  # (10, 20, 110.5, 220.25): pixel centres inside
    ring = [[300.0, 100.0, 340.0, 100.0, 320.0, 160.0]]
    np.testing.assert_array_equal(triangle, rle.rasterize_polygon(ring, 640, 480))
    assert records["empty.jpg"]["image/object/mask"].size == 0


def test_keypoint_records_are_flat_object_major_with_names_and_counts(exports, tf):
    records = records_by_file(tf, exports["keypoints_tfrecord"])
    street = records["street.jpg"]
    assert street["image/object/keypoint/x"] == pytest.approx([430 / 640, 400 / 640, 0.0])
    assert street["image/object/keypoint/y"] == pytest.approx([200 / 480, 300 / 480, 0.0])
    assert street["image/object/keypoint/visibility"].tolist() == [2, 1, 0]
    raw = raw_features(tf, exports["keypoints_tfrecord"], "street.jpg")
    assert raw["image/object/keypoint/num"].int64_list.value == [2]
    assert raw["image/object/keypoint/text"].bytes_list.value == [
        name.encode() for name in SKELETONS[0].keypoints]
    plaza = records["Bild ü.png"]
    assert plaza["image/object/bbox/xmin"] == pytest.approx([20 / 320])
    assert plaza["image/object/class/label"].tolist() == [1]  # person, the one keypoints class


def raw_features(tf, members: dict[str, bytes], file_name: str):
    """The tf.train.Example features of one image's record (keys the OD API spec leaves out)."""
    for name, data in members.items():
        for raw in raw_records(tf, data) if name.endswith(".tfrecord") else ():
            feature = tf.train.Example.FromString(raw).features.feature
            if feature["image/filename"].bytes_list.value[0].decode() == file_name:
                return feature
    raise AssertionError(f"no record for {file_name}")


def test_classification_records_carry_image_classes_and_no_object_keys(exports, tf):
    members = exports["classification_tfrecord"]
    plaza = raw_features(tf, members, "Bild ü.png")
    assert plaza["image/class/label"].int64_list.value == [2, 3]  # car, café, person
    assert plaza["image/class/text"].bytes_list.value == ["café".encode(), b"person"]
    assert not [key for key in plaza if key.startswith("image/object/")]


def test_the_label_map_parses_as_a_string_int_label_map_with_escaped_names(tmp_path, tf):
    from google.protobuf import text_format

    labels = [*LABELS, Label('say "hi"'), Label("back\\slash\\t")]  # a literal \t
    target = tmp_path / "out.zip"
    export_canonical("tfrecord", str(target), dataset_labels=labels)
    text = zip_members(str(target))[
        "canonical-set-tfrecord-20261125-123005/train/label_map.pbtxt"].decode()
    assert text.startswith('item {\n  name: "car"\n  id: 1\n}\nitem {\n')
    assert "," not in text
    label_map = text_format.Parse(text, tfrecord_reader.label_map_class()())
    assert [(item.name, item.id) for item in label_map.item] == [
        (label.name, index) for index, label in enumerate(labels, start=1)]


def test_a_set_over_the_size_limit_is_sharded_and_read_back_whole(tmp_path, tf, monkeypatch):
    monkeypatch.setattr(tfrecord_writer, "SHARD_LIMIT", 1)  # every record passes it
    target = tmp_path / "out.zip"
    export_canonical("tfrecord", str(target), split_ratio=0.34)
    members = {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}
    shards = sorted(name for name in members if name.endswith(".tfrecord"))
    assert shards == ["test/test.tfrecord", "train/train-00000-of-00002.tfrecord",
                      "train/train-00001-of-00002.tfrecord"]
    names = [r["image/filename"] for name in shards for r in parsed_records(tf, members[name])]
    assert names == [b"empty.jpg", b"street.jpg", "Bild ü.png".encode()]
    result = registry.get_format("tfrecord").read(ZipSource(target),
                                                  ReadContext(image_sizes=image_sizes()))
    assert sorted(i.file_name for i in result.images) == sorted(image_sizes())


def test_two_exports_give_byte_identical_records(tmp_path, tf):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    for target in (first, second):
        export_canonical("polygon_tfrecord", str(target), split_ratio=0.34)
    assert zip_members(str(first)) == zip_members(str(second))


def _train_source(members: dict[str, bytes], data: bytes) -> MemorySource:
    return MemorySource({"train/train.tfrecord": data,
                         "train/label_map.pbtxt": members["train/label_map.pbtxt"]})


@pytest.mark.parametrize("cut", [20, "header"], ids=["inside-data", "inside-header"])
def test_a_truncated_file_is_refused_naming_file_and_record(cut, exports, tf):
    members = exports["tfrecord"]
    data = members["train/train.tfrecord"]
    second = int.from_bytes(data[:8], "little") + 16  # where record 2 starts
    # Cut inside record 2's data, or 5 bytes into its 12-byte header (TF alone stops quietly).
    truncated = data[:-20] if cut == 20 else data[:second + 5]
    with pytest.raises(FormatError) as caught:
        registry.get_format("tfrecord").read(_train_source(members, truncated), ReadContext())
    assert caught.value.file == "train/train.tfrecord"
    assert caught.value.record == 2
    assert "the file is truncated" in str(caught.value)


def test_a_corrupted_record_is_refused_naming_file_and_record(exports, tf):
    members = exports["tfrecord"]
    data = bytearray(members["train/train.tfrecord"])
    data[100] ^= 0xFF  # inside record 1's payload: its CRC no longer matches
    with pytest.raises(FormatError) as caught:
        registry.get_format("tfrecord").read(_train_source(members, bytes(data)), ReadContext())
    assert str(caught.value).startswith("train/train.tfrecord record 1: ")


def test_absolute_records_are_read_back_in_pixels(tmp_path, tf):
    target = tmp_path / "out.zip"
    export_canonical("keypoints_tfrecord", str(target), normalized=False)
    result = registry.get_format("keypoints_tfrecord").read(ZipSource(target), ReadContext())
    street = next(i for i in result.images if i.file_name == "street.jpg")
    (person,) = street.annotations
    assert person.box == (400.0, 200.0, 460.0, 300.0)
    assert [(p.x, p.y, p.visibility) for p in person.keypoints] == [
        (430.0, 200.0, 2), (400.0, 300.0, 1), (0.0, 0.0, 0)]
    assert [s.keypoints for s in result.skeletons] == [SKELETONS[0].keypoints]


@pytest.mark.parametrize("format_id", VARIANTS)
def test_each_variant_is_told_apart_by_its_first_record(format_id, exports):
    source = MemorySource(exports[format_id])
    scores = {other: registry.get_format(other).detect(source) for other in VARIANTS}
    assert max(scores, key=scores.get) == format_id
    assert sorted(scores.values()) == [0, 0, 0, 95]


def test_importing_and_detecting_never_loads_tensorflow(exports, tmp_path):
    target = tmp_path / "upload.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in exports["keypoints_tfrecord"].items():
            archive.writestr(name, data)
    script = (
        "import sys\n"
        "from annotations.formats import registry\n"
        "from annotations.formats.io.source import ZipSource\n"
        f"ids = {VARIANTS!r}\n"
        f"scores = [registry.get_format(i).detect(ZipSource({str(target)!r})) for i in ids]\n"
        "assert scores == [0, 0, 0, 95], scores\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr


def test_od_api_label_maps_with_extra_fields_are_read():
    from annotations.formats.families.tfrecord_reader import parse_label_map

    text = ('item {\n  name: "/m/01g317"\n  id: 1\n  display_name: "person"\n'
            '  keypoints { id: 0 label: "nose" }\n}\nitem { id: 2 display_name: "dog" }\n')
    assert parse_label_map(text, "label_map.pbtxt") == {1: "/m/01g317", 2: "dog"}
    with pytest.raises(FormatError, match=r"^label_map.pbtxt line 1: "):
        parse_label_map('item { name: "x" id: 1 ', "label_map.pbtxt")
