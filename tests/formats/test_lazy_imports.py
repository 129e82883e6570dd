"""Start-up: a command loads numpy, Pillow and ijson only when it has a mask, an image or an
unusual JSON file to handle (issue 19, item 2). Checked in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
HEAVY = ("numpy", "PIL", "ijson")


def loaded_after(code: str) -> list[str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nexus.settings.test")
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps("
                           f"[m for m in {HEAVY!r} if m in sys.modules]))"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_box_formats_and_their_readers_load_none_of_them():
    code = """
from annotations.formats import registry
from annotations.formats.io.source import MemorySource
from annotations.formats.spec import ReadContext
for name in ("coco", "createml", "polygon_single", "yolo_darknet", "csv_fourcorner"):
    registry.get_format(name)
coco = b'{"images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],' \\
       b' "categories": [{"id": 1, "name": "cat"}],' \\
       b' "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}]}'
source = MemorySource({"a.json": coco * 1})
context = ReadContext(stream=True, stream_bytes=0)
images = list(registry.get_format("coco").read(source, context).images)
assert images[0].annotations[0].box == (1.0, 1.0, 3.0, 3.0)
"""
    assert loaded_after(code) == []


@pytest.mark.parametrize("command", ["export_annotations", "import_annotations"])
def test_commands_start_without_them(command):
    code = f"""
import django
django.setup()
from django.core.management import load_command_class
load_command_class({'"exports"' if command.startswith("export") else '"annotations"'}, "{command}")
"""
    assert loaded_after(code) == []


def test_a_mask_still_loads_numpy_when_needed():
    code = """
from annotations.formats.families import rle
from annotations.formats.records import Rle
assert rle.rle_box(Rle(2, 2, rle.runs_to_string([1, 2, 1]))) == (0.0, 0.0, 2.0, 2.0)
"""
    assert loaded_after(code) == ["numpy"]


def test_detecting_a_coco_upload_loads_none_of_them():
    code = """
from annotations.formats.io.reading import detect_formats
from annotations.formats.io.source import MemorySource
coco = b'{"images": [], "categories": [], "annotations": []}'
assert detect_formats(MemorySource({"a.json": coco}))[0][0] == "coco"
"""
    assert loaded_after(code) == []
