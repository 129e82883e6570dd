"""The export's class list: which labels are exported, under which names (FORMATS.md §1, §3), and
what the format converts or leaves out (§2 "Conversions are never silent")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from annotations.formats.options import ExportOptions, OptionError
from annotations.formats.records import ImageRecord, Label, Skeleton
from annotations.formats.spec import FAMILY_KINDS, FormatSpec

LabelKinds = Mapping[tuple[str, str], int]  # (label name, annotation kind) -> annotations


@dataclass(frozen=True, slots=True)
class ClassPlan:
    selected: tuple[str, ...]  # the source labels exported, in dataset order
    class_of: dict[str, str]  # source label name -> class name, for the selected labels
    classes: list[Label]  # the class list: renamed, merged, in dataset order
    identity: bool  # every label exported under its own name: nothing to filter or rename

    def apply(self, image: ImageRecord) -> ImageRecord:
        """The image with only the selected labels' annotations, under their class names."""
        if self.identity:
            return image
        class_of = self.class_of
        kept = [a if class_of[a.label] == a.label else replace(a, label=class_of[a.label])
                for a in image.annotations if a.label in class_of]
        return replace(image, annotations=kept)

    def skeletons(self, skeletons: Iterable[Skeleton]) -> list[Skeleton]:
        """The selected labels' skeletons under their class names (a merged class keeps the
        first one)."""
        found: dict[str, Skeleton] = {}
        for skeleton in skeletons:
            name = self.class_of.get(skeleton.label)
            if name is not None and name not in found:
                found[name] = skeleton if name == skeleton.label else \
                    replace(skeleton, label=name)
        return list(found.values())


def default_selection(labels: list[Label], counts: LabelKinds, family: str) -> list[str]:
    """Every label except those whose annotations are all of kinds the family does not take;
    labels with no annotation at all stay selected."""
    takes = set(FAMILY_KINDS[family])
    kinds: dict[str, set[str]] = {}
    for (name, kind), n in counts.items():
        if n:
            kinds.setdefault(name, set()).add(kind)
    return [label.name for label in labels
            if not kinds.get(label.name) or kinds[label.name] & takes]


def class_plan(labels: list[Label], counts: LabelKinds, spec: FormatSpec,
               options: ExportOptions) -> ClassPlan:
    """The class list for these options. Unknown label names are refused (OptionError)."""
    names = [label.name for label in labels]
    known = set(names)
    asked = list(options.labels) if options.labels is not None else None
    unknown = [n for n in (asked or []) + list(options.rename) if n not in known]
    if unknown:
        listed = ", ".join(repr(n) for n in names) or "none"
        field = "labels" if unknown[0] in (asked or []) else "rename"
        raise OptionError(field, f"No label {unknown[0]!r} in this dataset (its labels: "
                                 f"{listed}).")
    chosen = set(asked) if asked is not None else set(default_selection(labels, counts,
                                                                         spec.family))
    selected = tuple(n for n in names if n in chosen)
    class_of = {n: options.rename.get(n, n) for n in selected}
    classes: dict[str, Label] = {}
    for label in labels:
        name = class_of.get(label.name)
        if name is not None and name not in classes:
            classes[name] = label if name == label.name else replace(label, name=name)
    identity = len(selected) == len(names) and all(k == v for k, v in class_of.items())
    return ClassPlan(selected, class_of, list(classes.values()), identity)


def check_skeleton_sizes(plan: ClassPlan, skeletons: Iterable[Skeleton], spec: FormatSpec,
                         counts: LabelKinds | None = None) -> None:
    """A format with one point count for every class (YOLO pose's `kpt_shape`) refuses classes
    whose skeletons differ in size, naming them and their point counts, and selected labels
    with keypoint instances but no skeleton (`counts` tells which have instances)."""
    if not spec.one_skeleton_size:
        return
    by_label = {s.label: s for s in skeletons}
    sizes = {n: len(by_label[n].keypoints) for n in plan.selected if n in by_label}
    bare = [n for n in plan.selected if n not in sizes and (counts or {}).get((n, "keypoints"))]
    if bare:
        raise OptionError("labels", f"{spec.name} writes every label's point count from its "
                                    f"skeleton, and {bare[0]!r} has keypoint instances but no "
                                    f"skeleton: upload a skeletons.json for it or leave it out.")
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{name!r} has {n} points" for name, n in sizes.items())
        raise OptionError("labels", f"{spec.name} needs the same number of keypoints for every "
                                    f"label ({listed}): select labels whose skeletons have the "
                                    f"same number of points.")


def conversions(counts: LabelKinds, plan: ClassPlan, spec: FormatSpec
                ) -> tuple[dict[str, int], dict[str, int]]:
    """(converted, dropped): `<stored kind>_as_<written kind>` and the kinds the format cannot
    carry, over the selected labels; `label` counts the unselected labels' annotations."""
    converted: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    writes = spec.written_kinds
    for (label, kind), n in counts.items():
        if not n:
            continue
        if label not in plan.class_of:
            dropped["label"] += n
        elif kind not in writes:
            dropped[kind] += n
        elif writes[kind] != kind:
            converted[f"{kind}_as_{writes[kind]}"] += n
    return dict(sorted(converted.items())), dict(sorted(dropped.items()))


def count_label_kinds(images: Iterable[ImageRecord]) -> dict[tuple[str, str], int]:
    """(label, kind) -> annotations of records (the database answers this with one query)."""
    counts: Counter[tuple[str, str]] = Counter()
    for image in images:
        for a in image.annotations:
            counts[(a.label, a.kind)] += 1
    return dict(counts)


def class_ids(labels_by_image: Mapping[int, Iterable[str]], plan: ClassPlan
              ) -> dict[int, tuple[int, ...]]:
    """Image id -> its distinct class ids (positions in the class list), from the names of the
    labels it has: what a stratified split balances."""
    index = {label.name: i for i, label in enumerate(plan.classes)}
    class_of = plan.class_of
    return {image_id: tuple(sorted({index[class_of[n]] for n in names if n in class_of}))
            for image_id, names in labels_by_image.items()}


def image_classes(images: Iterable[ImageRecord], plan: ClassPlan, family: str
                  ) -> dict[int, tuple[int, ...]]:
    """`class_ids` of records, over the family's kinds."""
    takes = set(FAMILY_KINDS[family])
    return class_ids({image.id: [a.label for a in image.annotations if a.kind in takes]
                      for image in images}, plan)


def describe(converted: Mapping[str, int], dropped: Mapping[str, int], spec: FormatSpec
             ) -> list[str]:
    """One line per conversion or drop, for the popup ("11 polygons written as boxes")."""
    lines = [f"{n} {_plural(kind, n)} written as {_plural(written, n)}"
             for kind, written, n in ((*key.split("_as_"), n) for key, n in converted.items())]
    for kind, n in dropped.items():
        if kind == "label":
            lines.append(f"{n} {_plural('annotation', n)} of unselected labels not written")
        else:
            lines.append(f"{n} {_plural(kind, n)} not written: {spec.name} has no "
                         f"{KIND_PHRASES.get(kind, kind)}")
    return lines


def describe_class_folders(images: int) -> list[str]:
    """The popup's line for a format writing an image into each of its class folders
    (`counts_per_class_folder`): how many images are written more than once."""
    if not images:
        return []
    have = "has" if images == 1 else "have"
    return [f"{images} {_plural('image', images)} {have} 2 or more classes: each is written "
            f"into every class folder it has"]


KIND_PHRASES = {"tag": "image-level classes", "box": "boxes", "polygon": "polygons",
                "mask": "masks", "keypoints": "keypoints"}
PLURALS = {"box": "boxes", "keypoints": "keypoint instances", "mask": "masks",
           "polygon": "polygons", "tag": "tags", "annotation": "annotations"}
SINGULARS = {"keypoints": "keypoint instance"}


def _plural(kind: str, n: int) -> str:
    return PLURALS.get(kind, kind + "s") if n != 1 else SINGULARS.get(kind, kind)
