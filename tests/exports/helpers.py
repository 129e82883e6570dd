"""Independent little parsers for exported zips (not the project's readers) and DB expectations."""

from __future__ import annotations

import csv
import io
import json

from lxml import etree

from annotations.formats.geometry import clamp_box, tight_box
from annotations.mapping import iter_image_records
from datasets.models import Image

BOX_KINDS = ("box", "polygon", "mask", "keypoints")


def expected_boxes(dataset) -> dict[str, list[tuple[str, tuple]]]:
    """file name -> sorted [(label, clamped box)] for the boxes family, straight from the DB."""
    ids = list(Image.objects.filter(dataset=dataset).values_list("id", flat=True))
    result = {}
    for record in iter_image_records(ids):
        boxes = [(a.label, clamp_box(tight_box(a), record.width, record.height))
                 for a in record.annotations if a.kind in BOX_KINDS]
        result[record.file_name] = sorted(boxes)
    return result


def sizes(dataset) -> dict[str, tuple[int, int]]:
    return {n: (w, h) for n, w, h in
            Image.objects.filter(dataset=dataset).values_list("original_name", "width", "height")}


def parse_yolo(members: dict[str, bytes], top: str, dims, labels) -> dict[str, list]:
    out = {}
    images = {m.rsplit("/", 1)[1] for m in members if "/images/" in m}
    for name, data in members.items():
        if "/labels/" not in name:
            continue
        stem = name.rsplit("/", 1)[1][:-4]
        file_name = next(i for i in images if i.rsplit(".", 1)[0] == stem)
        w, h = dims[file_name]
        boxes = []
        for line in data.decode().splitlines():
            c, cx, cy, bw, bh = line.split()
            cx, cy, bw, bh = float(cx) * w, float(cy) * h, float(bw) * w, float(bh) * h
            boxes.append((labels[int(c)], (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)))
        out[file_name] = sorted(boxes)
    return out


def parse_coco(members: dict[str, bytes], top: str) -> dict[str, list]:
    out = {}
    for name, data in members.items():
        if not name.endswith("_annotations.coco.json"):
            continue
        doc = json.loads(data)
        cats = {c["id"]: c["name"] for c in doc["categories"]}
        files = {i["id"]: i["file_name"] for i in doc["images"]}
        for file_name in files.values():
            out[file_name] = []
        for a in doc["annotations"]:
            x, y, w, h = a["bbox"]
            out[files[a["image_id"]]].append((cats[a["category_id"]], (x, y, x + w, y + h)))
    return {k: sorted(v) for k, v in out.items()}


def parse_csv(members: dict[str, bytes], width_height: bool) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, data in members.items():
        if not name.endswith("_annotations.csv"):
            continue
        for row in csv.DictReader(io.StringIO(data.decode())):
            if width_height:
                x, y = float(row["xmin"]), float(row["ymin"])
                box = (x, y, x + float(row["width"]), y + float(row["height"]))
                label = row["label"]
            else:
                box = tuple(float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax"))
                label = row["class"]
            out.setdefault(row["filename"], []).append((label, box))
    return {k: sorted(v) for k, v in out.items()}


def parse_voc(members: dict[str, bytes]) -> dict[str, list]:
    out = {}
    for name, data in members.items():
        if "/Annotations/" not in name:
            continue
        root = etree.fromstring(data)
        boxes = []
        for obj in root.iter("object"):
            b = obj.find("bndbox")
            x0, y0, x1, y1 = (float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes.append((obj.findtext("name"), (x0 - 1, y0 - 1, x1, y1)))  # 1-based devkit
        out[root.findtext("filename")] = sorted(boxes)
    return out
