"""The practical floor: a tight numpy + zipfile COCO -> YOLO writer (no Django, no checks).

    .venv/bin/python benchmarks/floor.py <coco.json> <out.zip>

Annotations only: one deflated `labels/<stem>.txt` per image with `%.6f` centre boxes. Run as a
whole process like the exports, so its figure includes Python start-up and imports.
"""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import orjson


def main(source: str, target: str) -> None:
    with open(source, "rb") as handle:
        document = orjson.loads(handle.read())
    images = document["images"]
    annotations = document["annotations"]
    index = {image["id"]: i for i, image in enumerate(images)}
    sizes = np.array([(image["width"], image["height"]) for image in images], dtype=np.float64)
    rows = np.array([index[a["image_id"]] for a in annotations], dtype=np.int64)
    classes = np.array([a["category_id"] - 1 for a in annotations], dtype=np.int64)
    boxes = np.array([a["bbox"] for a in annotations], dtype=np.float64)
    w, h = sizes[rows, 0], sizes[rows, 1]
    centre = np.stack([(boxes[:, 0] + boxes[:, 2] / 2) / w, (boxes[:, 1] + boxes[:, 3] / 2) / h,
                       boxes[:, 2] / w, boxes[:, 3] / h], axis=1)
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(len(images) + 1))
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for i, image in enumerate(images):
            picked = order[starts[i]:starts[i + 1]]
            text = "".join("%d %.6f %.6f %.6f %.6f\n" % (c, *v)
                           for c, v in zip(classes[picked].tolist(), centre[picked].tolist()))
            stem = image["file_name"].rsplit(".", 1)[0]
            archive.writestr(f"labels/{stem}.txt", text)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
