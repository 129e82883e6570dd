"""Small helpers shared by the per-format tests (CSV, Pascal VOC, YOLO Keras)."""

from __future__ import annotations

import json
from pathlib import Path

from annotations.formats import registry
from annotations.formats.io.source import MemorySource, Source, ZipSource
from annotations.formats.records import Annotation, ImageRecord

from .canonical import export_canonical, zip_members


def image(name: str, image_id: int, *boxes: tuple[str, tuple[float, float, float, float]],
          tags: tuple[str, ...] = (), width: int = 640, height: int = 480) -> ImageRecord:
    annotations = [Annotation(label, "box", box=box) for label, box in boxes]
    annotations += [Annotation(label, "tag") for label in tags]
    return ImageRecord(file_name=name, width=width, height=height, id=image_id, ref=name,
                       annotations=annotations)


def export(format_id: str, tmp_path: Path, **options) -> tuple[dict[str, bytes], dict]:
    """The zip's members keyed by path below the top folder, and the parsed manifest."""
    target = tmp_path / f"{format_id}.zip"
    summary = export_canonical(format_id, str(target), **options)
    members = {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}
    assert summary.top_folder
    return members, json.loads(members["manifest.json"])


def text(members: dict[str, bytes], path: str) -> str:
    return members[path].decode("utf-8")


def memory(files: dict[str, str | bytes]) -> Source:
    return MemorySource({k: v.encode() if isinstance(v, str) else v for k, v in files.items()})


def detect_available(source: Source) -> list[tuple[str, int]]:
    """Like reading.detect_formats, but over the format modules that exist yet (others are
    being written in parallel); most confident first."""
    scores = []
    for format_id in registry.format_ids():
        try:
            module = registry.get_format(format_id)
        except ModuleNotFoundError:
            continue
        score = module.detect(source)
        if score > 0:
            scores.append((format_id, score))
    return sorted(scores, key=lambda item: -item[1])


def detect_own_export(format_id: str, tmp_path: Path) -> list[tuple[str, int]]:
    """detect_available over the format's canonical export (a test set, images included)."""
    target = tmp_path / "out.zip"
    export_canonical(format_id, str(target), split_ratio=0.34, include_images=True)
    return detect_available(ZipSource(target))
