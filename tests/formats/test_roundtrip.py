"""Every registered format, generated from the registry: write -> read -> equal, and golden files.

Adding a format to the registry adds it here without new test code. Set UPDATE_GOLDEN=1 to
rewrite the golden files after a deliberate format change (and review the diff).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from annotations.formats import registry
from annotations.formats.geometry import tight_box
from annotations.formats.io.reading import detect_formats
from annotations.formats.io.source import MemorySource, ZipSource
from annotations.formats.pipeline import prepare_image
from annotations.formats.spec import ReadContext

from .canonical import CLASSES, canonical_images, export_canonical, image_sizes, zip_members

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden"
FORMAT_IDS = registry.format_ids()
# How far a coordinate may move through a format: VOC and YOLO Keras keep whole pixels.
TOLERANCE = {"pascal_voc": 1.01, "yolo_keras_pytorch": 0.51}
# Formats whose files carry no class list: their labels come back in the order of first use.
NO_CLASS_LIST = {"csv_fourcorner", "csv_widthheight", "createml"}


def _roundtrip(format_id: str, tmp_path: Path, **options):
    target = tmp_path / f"{format_id}.zip"
    summary = export_canonical(format_id, str(target), **options)
    source = ZipSource(target)
    spec = registry.get_spec(format_id)
    result = registry.get_format(format_id).read(source, ReadContext(image_sizes=image_sizes()))
    return spec, summary, result


def _expected(spec, summary) -> dict[str, list]:
    """The canonical images as the format's family sees them, keyed by the name in the zip."""
    renamed = {r["from"]: r["to"] for r in summary.renamed}
    left_out = {item["file"] for item in summary.left_out}
    expected = {}
    for image in canonical_images():
        if image.file_name in left_out:
            continue
        prepared = prepare_image(image, spec.family, normalized=False)
        expected[renamed.get(image.file_name, image.file_name)] = prepared.annotations
    return expected


def _assert_same(expected: list, actual: list, spec, tolerance: float, where: str):
    """Every annotation back: same labels, written kinds, boxes, every ring and every point."""
    assert Counter(a.label for a in actual) == Counter(a.label for a in expected), where
    if spec.family == "classification":
        assert {a.kind for a in actual} <= {"tag"}, where
        return
    key = lambda a: (a.label, tuple(round(v) for v in (tight_box(a) or (0, 0, 0, 0))))  # noqa: E731
    for want, got in zip(sorted(expected, key=key), sorted(actual, key=key), strict=True):
        here = f"{where}: {want.label} {want.kind}"
        assert want.label == got.label, here
        assert got.kind == spec.written_kinds.get(want.kind, want.kind), here
        want_box, got_box = tight_box(want), tight_box(got)
        assert (want_box is None) == (got_box is None), here
        if want_box is not None:
            assert got_box == pytest.approx(want_box, abs=tolerance), here
        if want.kind == "keypoints":
            assert len(got.keypoints) == len(want.keypoints), here
            assert [p.visibility for p in got.keypoints] == [p.visibility for p in want.keypoints]
            for p, q in zip(want.keypoints, got.keypoints, strict=True):
                if p.visibility:
                    assert (q.x, q.y) == pytest.approx((p.x, p.y), abs=tolerance), here
        if got.kind == "polygon" and want.polygon is not None:
            assert len(got.polygon) == len(want.polygon), here
            for want_ring, got_ring in zip(want.polygon, got.polygon, strict=True):
                assert got_ring == pytest.approx(want_ring, abs=tolerance), here


@pytest.mark.parametrize("normalized", [False, True], ids=["absolute", "normalized"])
@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_write_then_read_gives_the_same_annotations(format_id, normalized, tmp_path):
    spec, summary, result = _roundtrip(format_id, tmp_path, normalized=normalized,
                                       split_ratio=0.34, shuffle=True, seed=3)
    expected = _expected(spec, summary)
    actual = {image.file_name: image.annotations for image in result.images}
    assert sorted(actual) == sorted(expected)
    tolerance = TOLERANCE.get(format_id, 0.02)
    for name, wanted in expected.items():
        _assert_same(wanted, actual[name], spec, tolerance, f"{format_id} {name}")
    classes = CLASSES[spec.family]
    if format_id in NO_CLASS_LIST:
        assert sorted(result.labels) == sorted(classes)
    else:
        assert result.labels == classes


@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_export_matches_the_golden_files(format_id, tmp_path):
    target = tmp_path / "out.zip"
    export_canonical(format_id, str(target), split_ratio=0.34)
    members = {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}
    produced = {name: data for name, data in members.items() if not name.endswith("/")}
    directories = [name for name in members if name.endswith("/")]
    folder = GOLDEN / format_id
    # Git keeps no empty folder: a zip's directory entries are listed in a file beside it.
    listing = GOLDEN / f"{format_id}-directories.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        for name, data in produced.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        if directories:
            listing.write_text("".join(f"{name}\n" for name in directories))
        else:
            listing.unlink(missing_ok=True)
    golden = {p.relative_to(folder).as_posix(): p.read_bytes()
              for p in folder.rglob("*") if p.is_file()}
    assert directories == (listing.read_text().splitlines() if listing.exists() else [])
    assert sorted(produced) == sorted(golden)
    for name, data in produced.items():
        assert data == golden[name], f"{format_id}: {name} differs from the golden file"


@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_the_detector_names_the_format_of_its_own_export(format_id, tmp_path):
    target = tmp_path / "out.zip"
    export_canonical(format_id, str(target), split_ratio=0.34, include_images=True)
    found = detect_formats(ZipSource(target))
    assert found, "nothing recognised"
    best = found[0][1]
    assert format_id in [fid for fid, score in found if score == best], found


@pytest.mark.parametrize("format_id", FORMAT_IDS)
def test_every_zip_member_is_sorted_under_one_top_folder_with_a_manifest(format_id, tmp_path):
    target = tmp_path / "out.zip"
    summary = export_canonical(format_id, str(target), split_ratio=0.5, include_images=True)
    members = list(zip_members(str(target)))
    assert members == sorted(members)
    assert {m.split("/", 1)[0] for m in members} == {summary.top_folder}
    assert summary.top_folder == f"canonical-set-{format_id}-20261125-123005"
    manifest = json.loads(zip_members(str(target))[f"{summary.top_folder}/manifest.json"])
    assert manifest["format"] == format_id
    assert manifest["created_at"] == "2026-11-25T12:30:05Z"
    assert manifest["labels"] == CLASSES[registry.get_spec(format_id).family]
    for set_name in manifest["sets"]:
        assert any(m.startswith(f"{summary.top_folder}/{set_name}/") for m in members)


def test_memory_source_reads_like_a_zip(tmp_path):
    target = tmp_path / "out.zip"
    export_canonical("yolo_darknet", str(target))
    memory = MemorySource(zip_members(str(target)))
    from_zip = registry.get_format("yolo_darknet").read(ZipSource(target),
                                                        ReadContext(image_sizes=image_sizes()))
    from_memory = registry.get_format("yolo_darknet").read(memory,
                                                           ReadContext(image_sizes=image_sizes()))
    assert [i.file_name for i in from_zip.images] == [i.file_name for i in from_memory.images]
