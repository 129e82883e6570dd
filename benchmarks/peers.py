"""One peer conversion, run in its own process by run.py: COCO JSON in, one format out.

    <peer python> benchmarks/peers.py globox yolo_darknet <coco.json> <out dir>
    <peer python> benchmarks/peers.py datumaro coco <peers/boxes> <out dir> [--with-images]

Plain Python, no Django: it runs in whatever environment has the peer installed (the `bench`
extra, or the separate venv of `benchmarks/setup-peers`). Exit code 3: the peer cannot write
that format here (missing optional dependency), which run.py reports as "n/a".
"""

from __future__ import annotations

import sys
from pathlib import Path

# Nexus format id -> what each peer calls the same output (None: the peer has no such format).
GLOBOX = {
    "yolo_darknet": "save_yolo_darknet",
    "coco": "save_coco",
    "pascal_voc": "save_pascal_voc",
    "polygon_single": "save_labelme",
    "csv_fourcorner": "save_openimage",  # globox's CSV writer (OpenImages columns)
}
DATUMARO = {  # (import format of the COCO input, export format)
    "yolo_darknet": ("coco_instances", "yolo"),
    "coco": ("coco_instances", "coco_instances"),
    "pascal_voc": ("coco_instances", "voc_detection"),
    "polygon_single": ("coco_instances", "label_me"),  # Datumaro's LabelMe is the XML flavour
    "tfrecord": ("coco_instances", "tf_detection_api"),
    "polygon_coco": ("coco_instances", "coco_instances"),
    "keypoints_coco": ("coco_person_keypoints", "coco_person_keypoints"),
    "csv_classification": ("coco_labels", "imagenet_txt"),
}


def run_globox(format_id: str, coco_json: Path, out: Path) -> None:
    from globox import AnnotationSet

    annotations = AnnotationSet.from_coco(coco_json)
    method = getattr(annotations, GLOBOX[format_id])
    if format_id == "coco":
        method(out / "annotations.json", auto_ids=True)
    elif format_id == "csv_fourcorner":
        method(out / "annotations.csv")
    else:
        method(out)


def run_datumaro(format_id: str, root: Path, out: Path, with_images: bool) -> None:
    import logging

    from datumaro.components.dataset import Dataset
    from datumaro.components.environment import Environment

    logging.disable(logging.WARNING)
    source_format, target_format = DATUMARO[format_id]
    if target_format not in Environment().exporters:
        raise SystemExit(3)  # e.g. tf_detection_api without TensorFlow
    dataset = Dataset.import_from(str(root), source_format)
    dataset.export(str(out), target_format, save_media=with_images)


def main(argv: list[str]) -> None:
    tool, format_id, source, out = argv[:4]
    with_images = "--with-images" in argv
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    if tool == "globox":
        if format_id not in GLOBOX:
            raise SystemExit(3)
        run_globox(format_id, Path(source), target)
    elif tool == "datumaro":
        if format_id not in DATUMARO:
            raise SystemExit(3)
        run_datumaro(format_id, Path(source), target, with_images)
    else:
        raise SystemExit(f"unknown peer {tool!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
