"""The registry contract: adding or removing a format is a deliberate change to this list."""

from __future__ import annotations

import pytest

from annotations.formats import registry
from annotations.formats.errors import UnknownFormat

EXPECTED = {
    "boxes": ["coco", "csv_fourcorner", "csv_widthheight", "pascal_voc", "yolo_darknet",
              "yolo_keras_pytorch", "createml", "tfrecord"],
    "polygons": ["polygon_coco", "polygon_single", "polygon_tfrecord"],
    "classification": ["csv_classification", "classification_tfrecord"],
    "keypoints": ["keypoints_coco", "keypoints_tfrecord"],
}


def test_the_registry_holds_exactly_the_fifteen_formats_of_the_contract():
    ids = registry.format_ids()
    assert len(ids) == 15
    assert sorted(ids) == sorted(i for family in EXPECTED.values() for i in family)


@pytest.mark.parametrize("format_id", registry.format_ids())
def test_every_format_module_declares_its_id_family_and_the_same_few_names(format_id):
    module = registry.get_format(format_id)
    spec = module.SPEC
    assert spec.id == format_id
    assert format_id in EXPECTED[spec.family]
    assert spec.name and spec.description
    for name in ("write_set", "read", "detect"):
        assert callable(getattr(module, name)), f"{format_id} lacks {name}"


def test_conventional_normalization_follows_the_contract():
    on = {s.id for s in registry.available_formats() if s.normalized}
    none = {s.id for s in registry.available_formats() if s.normalized is None}
    assert on == {"yolo_darknet", "tfrecord", "polygon_tfrecord", "keypoints_tfrecord"}
    assert none == {"csv_classification", "classification_tfrecord"}


def test_an_unknown_format_is_a_typed_error():
    with pytest.raises(UnknownFormat, match="unknown export format 'yolo_v9'"):
        registry.get_format("yolo_v9")


def test_importing_the_registry_and_every_spec_does_not_load_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from annotations.formats import registry; "
            "[registry.get_spec(i) for i in registry.format_ids()]; "
            "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "False"
