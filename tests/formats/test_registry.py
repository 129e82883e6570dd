"""The registry contract: adding or removing a format is a deliberate change to this list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotations.formats import registry
from annotations.formats.errors import UnknownFormat

EXPECTED = {
    "boxes": ["coco", "csv_fourcorner", "csv_widthheight", "pascal_voc", "yolo_darknet",
              "yolo_keras_pytorch", "createml", "tfrecord"],
    "polygons": ["polygon_coco", "polygon_single", "polygon_tfrecord", "yolo_segment"],
    "classification": ["csv_classification", "classification_tfrecord", "folder_classification"],
    "keypoints": ["keypoints_coco", "keypoints_tfrecord", "yolo_pose"],
}


def test_the_registry_holds_exactly_the_formats_of_the_contract():
    ids = registry.format_ids()
    assert len(ids) == sum(len(family) for family in EXPECTED.values())
    assert sorted(ids) == sorted(i for family in EXPECTED.values() for i in family)


@pytest.mark.parametrize("format_id", registry.format_ids())
def test_every_format_module_declares_its_id_family_and_the_same_few_names(format_id):
    module = registry.get_format(format_id)
    spec = module.SPEC
    assert spec.id == format_id
    assert format_id in EXPECTED[spec.family]
    assert spec.name and spec.description
    writer = "write_boxes" if spec.box_fast_path else "write_set"
    for name in (writer, "read", "detect"):
        assert callable(getattr(module, name)), f"{format_id} lacks {name}"


def test_conventional_normalization_follows_the_contract():
    on = {s.id for s in registry.available_formats() if s.normalized}
    none = {s.id for s in registry.available_formats() if s.normalized is None}
    assert on == {"yolo_darknet", "tfrecord", "polygon_tfrecord", "keypoints_tfrecord",
                  "yolo_segment", "yolo_pose"}
    assert none == {"csv_classification", "classification_tfrecord", "folder_classification"}


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


@pytest.mark.parametrize("format_id", registry.format_ids())
def test_capability_flags_say_what_the_module_has(format_id):
    module = registry.get_format(format_id)
    spec = module.SPEC
    assert spec.box_fast_path == callable(getattr(module, "write_boxes", None))
    assert spec.writes_root == callable(getattr(module, "write_root", None))
    assert not spec.box_fast_path or spec.family == "boxes"
    tfrecord = {"tfrecord", "polygon_tfrecord", "classification_tfrecord", "keypoints_tfrecord"}
    assert spec.needs_tensorflow == (format_id in tfrecord)
    # TFRecord records carry the image bytes; Image Folders are nothing but the images.
    assert spec.images_always_included == (format_id in tfrecord | {"folder_classification"})
    assert spec.counts_per_class_folder == (format_id == "folder_classification")


def test_every_format_module_imports_without_django(tmp_path):
    """The formats library is plain Python: a process where `import django` fails can still
    import every format module, the pipeline and the options."""
    blocker = tmp_path / "django.py"
    blocker.write_text("raise ImportError('django is not importable here')\n")
    modules = [*registry.BUILTIN_FORMATS.values(), "annotations.formats.pipeline",
               "annotations.formats.options", "annotations.formats.registry"]
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n"
              "    importlib.import_module(name)\n"
              "assert 'django' not in sys.modules or sys.modules['django'] is None\n"
              "print('ok', len(sys.modules))\n")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": f"{tmp_path}:{root}"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")
