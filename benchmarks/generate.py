"""Create a synthetic benchmark database: N images, ~K annotations per image, 80 classes.

    .venv/bin/python benchmarks/generate.py --images 10000 --per-image 10 --out benchmarks/out/10k

Everything lives under `--out` (its own SQLite database and media; never the developer's var/):

    <out>/nexus.sqlite3, <out>/media/bench/*.jpg   the database and 6 small real JPEGs that every
                                                   image row shares (one per image size)
    <out>/datasets.json                            dataset ids and row counts per kind
    <out>/peers/<kind>/annotations/<task>_default.json
                                                   the same data as COCO JSON, for the peers and for
                                                   the COCO reader's import figure
    <out>/peers/<kind>/images/default/<file>       hard links to the shared JPEGs (only with --links)

One dataset per kind: `bench-boxes` (boxes), `bench-polygons` (polygons, 8-16 vertices),
`bench-keypoints` (17-point person instances on a skeleton), `bench-tags` (1-3 image tags).
Rows go in with `executemany` (no model instances), so 1M annotations take seconds.
The data is random but seeded: the same arguments give the same database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("boxes", "polygons", "keypoints", "tags")
SIZES = [(640, 480), (800, 600), (1280, 720), (480, 640), (1024, 768), (640, 427)]
COCO_NAMES = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
    "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat "
    "baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl "
    "banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair couch "
    "potted_plant bed dining_table toilet tv laptop mouse remote keyboard cell_phone microwave "
    "oven toaster sink refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
).split()
KEYPOINTS = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
             "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
SKELETON = [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7],
            [6, 8], [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]]
BATCH = 20_000
# Datumaro finds each COCO task by its file name.
COCO_FILES = {"boxes": "instances_default.json", "polygons": "instances_default.json",
              "keypoints": "person_keypoints_default.json", "tags": "labels_default.json"}


def setup_django(out: Path) -> None:
    os.environ["NEXUS_VAR_DIR"] = str(out)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings.dev")
    os.environ.setdefault("NEXUS_DEBUG", "0")  # DEBUG keeps every SQL statement in memory
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _jpegs(media: Path) -> dict[tuple[int, int], tuple[str, int]]:
    """One small real JPEG per image size: storage name and byte size."""
    from PIL import Image as PILImage

    folder = media / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    found = {}
    for width, height in SIZES:
        path = folder / f"{width}x{height}.jpg"
        if not path.exists():
            image = PILImage.new("RGB", (width, height), (90, 120, 150))
            image.save(path, "JPEG", quality=80)
        found[(width, height)] = (f"bench/{path.name}", path.stat().st_size)
    return found


def _box(rng: random.Random, width: int, height: int) -> tuple[float, float, float, float]:
    w = rng.uniform(8, width / 3)
    h = rng.uniform(8, height / 3)
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return round(x, 2), round(y, 2), round(x + w, 2), round(y + h, 2)


def _geometry(kind: str, rng: random.Random, box: tuple) -> tuple[tuple, str | None]:
    """(tight box, geometry JSON) for one annotation of `kind`."""
    x0, y0, x1, y1 = box
    if kind == "polygons":
        n = rng.randint(8, 16)
        ring = []
        for _ in range(n):
            ring += [round(rng.uniform(x0, x1), 2), round(rng.uniform(y0, y1), 2)]
        xs, ys = ring[0::2], ring[1::2]
        return (min(xs), min(ys), max(xs), max(ys)), json.dumps({"rings": [ring]})
    if kind == "keypoints":
        points = []
        for _ in KEYPOINTS:
            v = rng.choice((0, 1, 2, 2, 2))
            points.append([round(rng.uniform(x0, x1), 2), round(rng.uniform(y0, y1), 2), v]
                          if v else [0, 0, 0])
        if not any(p[2] for p in points):
            points[0], points[1] = [x0, y0, 2], [x1, y1, 2]
        xs = [p[0] for p in points if p[2] > 0]
        ys = [p[1] for p in points if p[2] > 0]
        return (min(xs), min(ys), max(xs), max(ys)), json.dumps({"points": points})
    return box, None


class CocoWriter:
    """COCO JSON written entry by entry (the generator never holds the document)."""

    def __init__(self, path: Path, kind: str, labels: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.kind = kind
        self.images = open(path, "w", encoding="utf-8")
        self.annotations_path = path.with_suffix(".part")
        self.annotations = open(self.annotations_path, "w", encoding="utf-8")
        self.labels = labels
        self.images.write('{"info": {}, "licenses": [], "images": [')
        self.n_images = self.n_annotations = 0

    def image(self, image_id: int, name: str, width: int, height: int) -> None:
        self.images.write(("," if self.n_images else "") + json.dumps(
            {"id": image_id, "file_name": name, "width": width, "height": height}))
        self.n_images += 1

    def annotation(self, image_id: int, category: int, box: tuple, geometry: str | None) -> None:
        self.n_annotations += 1
        if self.kind == "tags":  # Datumaro's coco_labels task: a category, no geometry
            self.annotations.write(("," if self.n_annotations > 1 else "") + json.dumps(
                {"id": self.n_annotations, "image_id": image_id, "category_id": category}))
            return
        x0, y0, x1, y1 = box
        entry = {"id": self.n_annotations, "image_id": image_id, "category_id": category,
                 "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                 "area": round((x1 - x0) * (y1 - y0), 2), "iscrowd": 0, "segmentation": []}
        if self.kind == "polygons":
            entry["segmentation"] = json.loads(geometry)["rings"]
        elif self.kind == "keypoints":
            points = json.loads(geometry)["points"]
            entry["keypoints"] = [v for p in points for v in p]
            entry["num_keypoints"] = sum(1 for p in points if p[2] > 0)
        self.annotations.write(("," if self.n_annotations > 1 else "") + json.dumps(entry))

    def close(self) -> None:
        categories = []
        for index, name in enumerate(self.labels, start=1):
            category = {"id": index, "name": name, "supercategory": "none"}
            if self.kind == "keypoints":
                category.update(keypoints=KEYPOINTS, skeleton=[[a + 1, b + 1] for a, b in SKELETON])
            categories.append(category)
        self.annotations.close()
        self.images.write('], "categories": ' + json.dumps(categories) + ', "annotations": [')
        with open(self.annotations_path, encoding="utf-8") as handle:
            while block := handle.read(1 << 20):
                self.images.write(block)
        self.images.write("]}\n")
        self.images.close()
        self.annotations_path.unlink()


def build(kind: str, n_images: int, per_image: int, out: Path, owner, seed: int,
          spread: int = 5) -> dict:
    from django.db import connection, transaction

    from annotations.models import Annotation
    from datasets.models import Dataset, Image, Label, Skeleton

    name = f"bench-{kind}"
    Dataset.objects.filter(owner=owner, name=name).delete()
    dataset = Dataset.objects.create(owner=owner, name=name, slug=name)
    label_names = ["person"] if kind == "keypoints" else COCO_NAMES
    Label.objects.bulk_create([Label(dataset=dataset, name=n, position=i, color="#e6194b")
                               for i, n in enumerate(label_names, start=1)])
    labels = list(dataset.labels.values_list("id", flat=True))
    if kind == "keypoints":
        Skeleton.objects.create(dataset=dataset, label_id=labels[0], name="person",
                                keypoints=KEYPOINTS, connections=SKELETON, flip_pairs=[])
    jpegs = _jpegs(Path(os.environ["NEXUS_VAR_DIR"]) / "media")
    coco = CocoWriter(out / "peers" / kind / "annotations" / COCO_FILES[kind], kind, label_names)
    rng = random.Random(seed)
    image_table, annotation_table = Image._meta.db_table, Annotation._meta.db_table
    image_sql = (f"INSERT INTO {image_table} (dataset_id, file, original_name, width, height, "
                 "checksum, position, recorded_set, created) VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s)")
    columns = ", ".join(Annotation._meta.get_field(f).column for f in
                        ("image", "label", "kind", "xmin", "ymin", "xmax", "ymax", "geometry"))
    annotation_sql = (f"INSERT INTO {annotation_table} ({columns}) "
                      "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
    row_kind = {"boxes": "box", "polygons": "polygon", "keypoints": "keypoints", "tags": "tag"}
    created = "2025-01-01 00:00:00"
    n_annotations = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, n_images, BATCH):
            count = min(BATCH, n_images - start)
            sizes = [SIZES[rng.randrange(len(SIZES))] for _ in range(count)]
            rows = [(dataset.pk, jpegs[s][0], f"{start + i + 1:012d}.jpg", s[0], s[1],
                     f"{dataset.pk:08x}{start + i:056x}", start + i + 1, created)
                    for i, s in enumerate(sizes)]
            cursor.executemany(image_sql, rows)
            ids = list(Image.objects.filter(dataset=dataset, position__gt=start)
                       .order_by("position").values_list("id", flat=True)[:count])
            annotation_rows = []
            for image_id, (width, height), row in zip(ids, sizes, rows):
                coco.image(image_id, row[2], width, height)
                if kind == "tags":
                    for label_index in rng.sample(range(len(labels)), rng.randint(1, 3)):
                        annotation_rows.append((image_id, labels[label_index], "tag", None, None,
                                                None, None, None))
                        coco.annotation(image_id, label_index + 1, None, None)
                    continue
                for _ in range(rng.randint(max(per_image - spread, 0), per_image + spread)):
                    label_index = rng.randrange(len(labels))
                    box, geometry = _geometry(kind, rng, _box(rng, width, height))
                    annotation_rows.append((image_id, labels[label_index], row_kind[kind],
                                            *box, geometry))
                    coco.annotation(image_id, label_index + 1, box, geometry)
            cursor.executemany(annotation_sql, annotation_rows)
            n_annotations += len(annotation_rows)
    coco.close()
    return {"id": dataset.pk, "images": n_images, "annotations": n_annotations}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--per-image", type=int, default=10, help="mean annotations per image")
    parser.add_argument("--spread", type=int, default=5,
                        help="annotations per image vary by up to this much either side")
    parser.add_argument("--kinds", default="boxes", help=f"comma-separated, of {','.join(KINDS)}")
    parser.add_argument("--out", required=True, help="folder for the database and files")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--links", action="store_true",
                        help="also lay out image hard links for peers that read images")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    setup_django(out)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench")
    info_path = out / "datasets.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    for offset, kind in enumerate(args.kinds.split(",")):
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}")
        t = time.perf_counter()
        info[kind] = build(kind, args.images, args.per_image, out, user, args.seed + offset,
                           args.spread)
        if args.links:
            link_images(out, kind)
        print(f"{kind}: {info[kind]['images']} images, {info[kind]['annotations']} annotations "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    print(f"done in {time.perf_counter() - started:.1f} s -> {out}")
    return info


def link_images(out: Path, kind: str) -> None:
    """images/default/<file> for every image of the dataset (peers that embed image bytes)."""
    from datasets.models import Image

    folder = out / "peers" / kind / "images" / "default"
    folder.mkdir(parents=True, exist_ok=True)
    media = Path(os.environ["NEXUS_VAR_DIR"]) / "media"
    for name, ref in (Image.objects.filter(dataset__name=f"bench-{kind}")
                      .values_list("original_name", "file").iterator(chunk_size=10_000)):
        link = folder / name
        if not link.exists():  # hard links: Datumaro refuses paths that resolve elsewhere
            os.link(media / ref, link)


if __name__ == "__main__":
    main()
