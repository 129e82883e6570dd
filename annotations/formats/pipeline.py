"""The export pipeline, once for every format: order, split, family, clamp, normalise, rename,
count, then hand each set to the format's writer and lay out the zip (FORMATS.md §1–3).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import IO, Any

from annotations.formats import geometry, numbers
from annotations.formats.families.boxes import (
    BoxImage,
    RawBox,
    box_images,
    prepare_boxes,
    raw_boxes,
)
from annotations.formats.io import jsonio
from annotations.formats.io.collector import fewer_collections
from annotations.formats.io.zipout import ZipOut
from annotations.formats.labels import (
    ClassPlan,
    check_skeleton_sizes,
    class_plan,
    conversions,
    count_label_kinds,
)
from annotations.formats.naming import SetNamer, slugify
from annotations.formats.options import ExportOptions
from annotations.formats.records import Annotation, ImageRecord, Keypoint, Label, Skeleton
from annotations.formats.registry import get_format
from annotations.formats.spec import (
    FAMILY_KINDS,
    ExportRoot,
    ExportSet,
    FormatModule,
    FormatSpec,
    ZipSink,
)
from annotations.formats.splits import SET_NAMES, random_split, stable_split, stratified_split

LEFT_OUT_REASONS = {"classification": "no class"}
# Deflate level of the annotation files in the zip. Level 1 compresses text 3-4x faster than 6
# (STACK.md: ~230 vs ~60 MB/s) for a zip about a fifth larger; images are stored, not deflated.
ZIP_LEVEL = 1

Progress = Callable[[int, int], None]


def order_and_split(ids: MutableSequence[int], options: ExportOptions, *,
                    classes: Mapping[int, Sequence[int]] | None = None,
                    hashes: Mapping[int, str] | None = None,
                    recorded: Mapping[int, str] | None = None
                    ) -> dict[str, MutableSequence[int]]:
    """Image ids (in upload order) to {"train", "valid", "test": [...]} in write order, of the
    type given (a list, or the packed array of `mapping.image_ids_in_upload_order`).

    `stratified` needs each image's class ids (`classes`, distinct ids, absent = none) and
    `stable` each image's sha256 (`hashes`), `keep` those and the recorded sets (`recorded`,
    absent = none)."""
    seed = options.seed
    if seed is None and (options.shuffle or options.split_mode != "random"):
        raise ValueError("this split needs a seed: record one on the job first (with_seed)")
    ordered = ids[:]
    if options.shuffle:
        random.Random(seed).shuffle(ordered)
    valid, test = options.valid_ratio, options.split_ratio
    if options.split_mode in ("stable", "keep"):
        if hashes is None:
            raise ValueError("a stable split needs every image's sha256")
        kept = [recorded.get(i) for i in ordered] if options.split_mode == "keep" and recorded \
            else None
        return stable_split(ordered, [hashes[i] for i in ordered], seed, valid, test, kept)
    if options.split_mode == "stratified":
        found = classes or {}
        return stratified_split(ordered, [found.get(i, ()) for i in ordered], seed, valid, test)
    return random_split(ordered, valid, test)


def family_annotations(annotations: list[Annotation], family: str) -> list[Annotation]:
    kinds = FAMILY_KINDS[family]
    return [a for a in annotations if a.kind in kinds]


def prepare_image(image: ImageRecord, family: str, normalized: bool,
                  writes: Mapping[str, str] | None = None) -> ImageRecord:
    """The image with only its family's annotations, clamped, with pixel areas, normalised;
    a shape `writes` turns into a mask (polygon_tfrecord) is rasterised first, in pixels."""
    width, height = image.width, image.height
    if family == "boxes":  # the same arithmetic as the box writers' fast path
        boxes = prepare_boxes(raw_boxes(image.annotations), width, height, normalized)
        return _with_annotations(image, [
            Annotation(label=label, kind="box", box=(x0, y0, x1, y1), area=area)
            for label, x0, y0, x1, y1, area in boxes])
    as_mask = {kind for kind, written in (writes or {}).items() if written == "mask"} - {"mask"}
    prepared = [_prepare_as_mask(a, width, height, normalized) if a.kind in as_mask
                else _prepare(a, family, width, height, normalized)
                for a in family_annotations(image.annotations, family)]
    return _with_annotations(image, [a for a in prepared if a is not None])


def _with_annotations(image: ImageRecord, annotations: list[Annotation]) -> ImageRecord:
    """dataclasses.replace(image, annotations=...), without its per-call field introspection."""
    return ImageRecord(file_name=image.file_name, width=image.width, height=image.height,
                       annotations=annotations, id=image.id, ref=image.ref, sha256=image.sha256)


def _prepare(a: Annotation, family: str, width: int, height: int,
             normalized: bool) -> Annotation | None:
    if a.kind == "tag":
        return Annotation(label=a.label, kind="tag")
    if family == "polygons" and a.kind == "polygon" and a.polygon and a.keypoints is None \
            and a.box is not None and not any(len(ring) % 2 for ring in a.polygon):
        return _prepare_polygon(a, width, height, normalized)
    if family == "keypoints" and a.kind == "keypoints" and a.keypoints is not None \
            and not a.polygon and a.box is not None:
        return _prepare_keypoints(a, width, height, normalized)
    box = geometry.tight_box(a)
    if box is None and a.kind != "keypoints":
        return None
    box = geometry.clamp_box(box, width, height) if box is not None else None
    sx, sy = (1.0 / width, 1.0 / height) if normalized else (1.0, 1.0)
    scaled_box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy) if box else None
    if family == "boxes":
        return Annotation(label=a.label, kind="box", box=scaled_box, area=geometry.box_area(box))
    polygon = None
    if a.polygon:
        polygon = [[_clamp_scale(v, i, width, height, sx, sy) for i, v in enumerate(ring)]
                   for ring in a.polygon]
    keypoints = None
    if a.keypoints is not None:
        keypoints = [_prepare_point(p, width, height, sx, sy) for p in a.keypoints]
    area = geometry.box_area(box) if box else 0.0
    if family == "polygons" and a.kind == "polygon":
        area = geometry.polygon_area([[_clamp_scale(v, i, width, height, 1, 1)
                                       for i, v in enumerate(r)] for r in a.polygon or []])
    elif family == "polygons" and a.kind == "mask" and a.mask is not None:
        from annotations.formats.families.rle import area as rle_area

        area = float(rle_area(a.mask))
    return Annotation(label=a.label, kind=a.kind, box=scaled_box, polygon=polygon, mask=a.mask,
                      keypoints=keypoints, area=area)


def _prepare_as_mask(a: Annotation, width: int, height: int,
                     normalized: bool) -> Annotation | None:
    """A box or polygon that the format writes as a mask: drawn at pixel scale (clamped to the
    image), so normalising the coordinates cannot move its edge by a rounding error."""
    from annotations.formats.families import rle

    box = geometry.tight_box(a)
    if box is None:
        return None
    box = geometry.clamp_box(box, width, height)
    if a.polygon:
        grid = rle.rasterize_polygon([[_clamp_scale(v, i, width, height, 1, 1)
                                       for i, v in enumerate(ring)] for ring in a.polygon],
                                     width, height)
    else:
        grid = rle.rasterize_box(box, width, height)
    sx, sy = (1.0 / width, 1.0 / height) if normalized else (1.0, 1.0)
    return Annotation(label=a.label, kind="mask", box=(box[0] * sx, box[1] * sy, box[2] * sx,
                                                       box[3] * sy),
                      mask=rle.encode(grid), area=float(grid.sum()))


def _prepare_polygon(a: Annotation, width: int, height: int, normalized: bool) -> Annotation:
    """`_prepare` of a polygon with its box (every ring of even length), in fewer calls: the same
    values, operations and order of operations as the general code."""
    x0, y0, x1, y1 = geometry.clamp_box(a.box, width, height)
    sx, sy = (1.0 / width, 1.0 / height) if normalized else (1.0, 1.0)
    fw, fh = float(width), float(height)  # clamp() gives ints at the edges; the same values
    polygon, area = [], 0
    for ring in a.polygon:
        xs = [0.0 if v < 0 else fw if v > fw else v for v in ring[0::2]]
        ys = [0.0 if v < 0 else fh if v > fh else v for v in ring[1::2]]
        scaled = [0.0] * len(ring)
        scaled[0::2] = [v * sx for v in xs]
        scaled[1::2] = [v * sy for v in ys]
        polygon.append(scaled)
        total = 0.0  # geometry.shoelace
        for xi, yi, xj, yj in zip(xs, ys, xs[1:] + xs[:1], ys[1:] + ys[:1], strict=True):
            total += xi * yj - xj * yi
        area += abs(total) / 2.0
    return Annotation(label=a.label, kind=a.kind, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy),
                      polygon=polygon, mask=a.mask, keypoints=None, area=area)


_UNLABELLED = Keypoint(0.0, 0.0, 0)  # what every point not labelled becomes


def _prepare_keypoints(a: Annotation, width: int, height: int,
                       normalized: bool) -> Annotation:
    """`_prepare` of a keypoint instance with its box, in fewer calls (the same values)."""
    box = geometry.clamp_box(a.box, width, height)
    sx, sy = (1.0 / width, 1.0 / height) if normalized else (1.0, 1.0)
    clamp = geometry.clamp
    unlabelled = _UNLABELLED  # shared, like the unchanged points below (never mutated)
    if normalized:
        keypoints = [Keypoint(clamp(p.x, 0, width) * sx, clamp(p.y, 0, height) * sy,
                              p.visibility)
                     if p.visibility > 0 else unlabelled for p in a.keypoints]
    else:  # a float point inside the image would be copied unchanged: share it (never mutated)
        keypoints = [(p if type(p.x) is float and type(p.y) is float and 0 <= p.x <= width
                      and 0 <= p.y <= height else
                      Keypoint(clamp(p.x, 0, width) * sx, clamp(p.y, 0, height) * sy,
                               p.visibility))
                     if p.visibility > 0 else unlabelled for p in a.keypoints]
    return Annotation(label=a.label, kind=a.kind,
                      box=(box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy),
                      polygon=None, mask=a.mask, keypoints=keypoints, area=geometry.box_area(box))


def _clamp_scale(value: float, index: int, width: int, height: int, sx: float, sy: float) -> float:
    if index % 2 == 0:
        return geometry.clamp(value, 0, width) * sx
    return geometry.clamp(value, 0, height) * sy


def _prepare_point(p: Keypoint, width: int, height: int, sx: float, sy: float) -> Keypoint:
    if p.visibility <= 0:
        return Keypoint(0.0, 0.0, 0)
    return Keypoint(geometry.clamp(p.x, 0, width) * sx, geometry.clamp(p.y, 0, height) * sy,
                    p.visibility)


@dataclass
class ExportRequest:
    format_id: str
    dataset_id: int
    dataset_name: str
    created_at: datetime
    options: ExportOptions
    labels: list[Label]  # every label of the dataset, in its order
    skeletons: list[Skeleton]
    sets: dict[str, Iterable[ImageRecord]]  # "train"/"valid"/"test" -> images in write order
    total_images: int
    nexus_version: str = "0.1.0"
    # (label, kind) -> annotations over the dataset; None: counted from `sets` (lists of records)
    label_kinds: Mapping[tuple[str, str], int] | None = None

    def class_plan(self, spec: FormatSpec) -> ClassPlan:
        return class_plan(self.labels, self.kind_counts(), spec, self.options)

    def kind_counts(self) -> Mapping[tuple[str, str], int]:
        if self.label_kinds is None:
            self.label_kinds = count_label_kinds(image for images in self.sets.values()
                                                 for image in images)
        return self.label_kinds


@dataclass
class ExportSummary:
    top_folder: str
    sets: dict[str, dict[str, int]] = field(default_factory=dict)
    left_out: list[dict[str, str]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)
    converted: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def top_folder_name(dataset_name: str, format_id: str, created_at: datetime) -> str:
    stamp = created_at.astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{slugify(dataset_name)}-{format_id}-{stamp}"


def export_zip(request: ExportRequest, target: str, *,
               image_loader: Callable[[Any], IO[bytes]], progress: Progress | None = None,
               work_dir: str | None = None) -> ExportSummary:
    """Write the whole export zip to `target`; on any error nothing is left in the work folder."""
    with fewer_collections():
        return _export_zip(request, target, image_loader=image_loader, progress=progress,
                           work_dir=work_dir)


def _export_zip(request: ExportRequest, target: str, *,
                image_loader: Callable[[Any], IO[bytes]], progress: Progress | None,
                work_dir: str | None) -> ExportSummary:
    module: FormatModule = get_format(request.format_id)
    spec = module.SPEC
    plan = request.class_plan(spec)
    check_skeleton_sizes(plan, request.skeletons, spec, request.kind_counts())
    # The manifest records the labels actually selected (the default selection resolved).
    options = replace(request.options.for_format(spec), labels=plan.selected)
    summary = ExportSummary(top_folder_name(request.dataset_name, spec.id, request.created_at))
    summary.converted, summary.dropped = conversions(request.kind_counts(), plan, spec)
    top = summary.top_folder + "/"
    # Progress: one unit per image as rows become files, then as many again spread over writing
    # the zip (members, MiBs of large members), so the bar keeps moving while a 100 MB COCO
    # JSON or 100k label files are compressed.
    ticker = _Ticker(progress, 2 * request.total_images)
    # Every entry dated the job's creation time in UTC (as the top folder's name, FORMATS.md
    # §3): the same for every attempt of a job, so its zip stays byte-identical.
    created = request.created_at.astimezone(UTC)
    out = ZipOut(target, image_loader=image_loader, work_dir=work_dir, compresslevel=ZIP_LEVEL,
                 date_time=created.timetuple()[:6])
    try:
        for set_name in SET_NAMES:
            _write_set(module, spec, request, options, plan, set_name, top, out, summary,
                       ticker)
        if spec.writes_root:
            module.write_root(ExportRoot(top, plan.classes, list(summary.sets),
                                         options.normalized,
                                         plan.skeletons(request.skeletons)), out)
        if spec.ships_skeletons:
            out.add_bytes(top + "skeletons.json",
                          skeletons_json(plan.skeletons(request.skeletons)))
        summary.manifest = _manifest(request, spec, options, plan, summary)
        out.add_bytes(top + "manifest.json",
                      jsonio.dumps(summary.manifest, numbers.format_normalized, indent=2) + "\n")
        out.on_units = ticker.share(request.total_images, out.work_units())
        out.close()
    except BaseException:
        out.discard()
        raise
    ticker.finish()
    return summary


def _write_set(module: Any, spec: FormatSpec, request: ExportRequest, options: ExportOptions,
               plan: ClassPlan, set_name: str, top: str, out: ZipOut, summary: ExportSummary,
               ticker: _Ticker) -> None:
    counts = {"images": 0, "annotations": 0}
    namer = SetNamer(spec.rename)
    reason = LEFT_OUT_REASONS.get(spec.family, "no annotations")
    skips_empty = spec.skips_empty or options.annotated_only
    source = request.sets.get(set_name, ())
    fast = spec.box_fast_path
    per_folder = spec.counts_per_class_folder

    def images() -> Iterator[ImageRecord]:
        for image in source:
            ticker.tick()
            prepared = prepare_image(plan.apply(image), spec.family, options.normalized,
                                     spec.writes)
            if skips_empty and not prepared.annotations:
                summary.left_out.append({"file": image.file_name, "reason": reason})
                continue
            prepared.file_name = namer.name(image.file_name, image.id)
            counts["images"] += len({a.label for a in prepared.annotations}) if per_folder else 1
            counts["annotations"] += len(prepared.annotations)
            yield prepared

    def box_images() -> Iterator[BoxImage]:
        normalized, class_of = options.normalized, None if plan.identity else plan.class_of
        for image_id, name, width, height, ref, raw in _raw_box_rows(source):
            ticker.tick()
            if class_of is not None:
                raw = [(class_of[box[0]], *box[1:]) for box in raw if box[0] in class_of]
            boxes = prepare_boxes(raw, width, height, normalized)
            if skips_empty and not boxes:
                summary.left_out.append({"file": name, "reason": reason})
                continue
            counts["images"] += 1
            counts["annotations"] += len(boxes)
            yield BoxImage(namer.name(name, image_id), width, height, image_id, ref, boxes)

    stream = box_images() if fast else images()
    first = next(stream, None)
    if first is None:
        return
    export_set = ExportSet(name=set_name, folder=f"{top}{set_name}/", labels=plan.classes,
                           skeletons=plan.skeletons(request.skeletons),
                           normalized=options.normalized,
                           include_images=options.include_images, images=_chain(first, stream))
    (module.write_boxes if fast else module.write_set)(export_set, out)
    for _ in stream:  # a writer that stops early still counts every image (and ticks progress)
        pass
    summary.sets[set_name] = counts
    summary.renamed.extend(namer.renamed)


def write_prepared_set(module: Any, export_set: ExportSet, out: ZipSink) -> None:
    """Write a set of prepared records with any format: box formats take them as BoxImages."""
    if module.SPEC.box_fast_path:
        module.write_boxes(replace(export_set, images=box_images(export_set.images)), out)
    else:
        module.write_set(export_set, out)


RawBoxRow = tuple[Any, str, int, int, Any, list[RawBox]]  # id, name, width, height, ref, boxes


def _raw_box_rows(source: Iterable[ImageRecord]) -> Iterator[RawBoxRow]:
    """Each image's stored tight boxes: straight from the database rows when the source can
    (annotations.mapping streams offer `raw_boxes`), else taken from the records."""
    if hasattr(source, "raw_boxes"):
        yield from source.raw_boxes()
        return
    for image in source:
        yield (image.id, image.file_name, image.width, image.height, image.ref,
               raw_boxes(image.annotations))


def _chain(first: ImageRecord, rest: Iterator[ImageRecord]) -> Iterator[ImageRecord]:
    yield first
    yield from rest


def _manifest(request: ExportRequest, spec: FormatSpec, options: ExportOptions,
              plan: ClassPlan, summary: ExportSummary) -> dict[str, Any]:
    return {
        "nexus_version": request.nexus_version,
        "format": spec.id,
        "created_at": request.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dataset": {"id": request.dataset_id, "name": request.dataset_name},
        "options": options.as_json(),
        "labels": [label.name for label in plan.classes],
        "sets": summary.sets,
        "left_out": summary.left_out,
        "renamed": summary.renamed,
        "converted": summary.converted,
        "dropped": summary.dropped,
    }


def skeletons_json(skeletons: list[Skeleton]) -> str:
    body = {"version": 1, "skeletons": [
        {"name": s.name, "label": s.label, "keypoints": list(s.keypoints),
         "connections": [list(c) for c in s.connections],
         "flip_pairs": [list(p) for p in s.flip_pairs]}
        for s in skeletons]}
    return jsonio.dumps(body, numbers.format_absolute, indent=2) + "\n"


class _Ticker:
    """Counts work steps and reports them; the callback decides how often to write."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, max(total, 0), 0

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)

    def share(self, steps: int, units: int) -> Callable[[int], None]:
        """A callback for `units` units of work that together advance `steps` steps."""
        start, seen = self.done, 0

        def advance(n: int) -> None:
            nonlocal seen
            seen += n
            done = start + (steps * min(seen, units)) // max(units, 1)
            if done != self.done:
                self.done = done
                if self.progress is not None:
                    self.progress(min(done, self.total), self.total)

        return advance

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.total, self.total)
