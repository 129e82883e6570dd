"""Reads for the Annotations tab: label counts per kind and a page of images with drawables."""

from __future__ import annotations

from collections import defaultdict

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from datasets.models import Dataset, Image, Skeleton

from .models import Annotation, ImportJob

PAGE_SIZE = 24
KIND_ORDER = ["box", "polygon", "mask", "keypoints", "tag"]
KIND_NAMES = {"box": ("box", "boxes"), "polygon": ("polygon", "polygons"),
              "mask": ("mask", "masks"), "tag": ("tag", "tags"),
              "keypoints": ("keypoint instance", "keypoint instances")}


def kind_count_text(kind: str, n: int) -> str:
    singular, plural = KIND_NAMES[kind]
    return f"{n:,} {singular if n == 1 else plural}"


def label_kind_counts(dataset: Dataset) -> dict[tuple[int, str], int]:
    """(label id, kind) -> annotations: one grouped scan of the (label, kind) index."""
    rows = (Annotation.objects.filter(label__dataset=dataset).values_list("label_id", "kind")
            .annotate(n=Count("label_id")).order_by())
    return {(label_id, kind): n for label_id, kind, n in rows}


def label_summary(dataset: Dataset) -> list[dict]:
    counts = label_kind_counts(dataset)
    summary = []
    for label in dataset.labels.all():
        mine = {kind: counts.get((label.pk, kind), 0) for kind in KIND_ORDER}
        summary.append({"label": label, "total": sum(mine.values()),
                        "counts": [kind_count_text(k, n) for k, n in mine.items() if n]})
    return summary


def image_page(dataset: Dataset, number: object) -> Page:
    images = Image.objects.filter(dataset=dataset).order_by("position", "id").only(
        "id", "original_name", "width", "height", "position")
    page = Paginator(images, PAGE_SIZE).get_page(number)
    _attach_drawables(dataset, list(page.object_list))
    return page


def image_with_drawables(user, pk: int) -> tuple[Image, int | None, int | None]:
    """One of the user's images with its annotations drawable, and its neighbours' ids."""
    image = get_object_or_404(Image.objects.select_related("dataset"), pk=pk,
                              dataset__owner=user)
    _attach_drawables(image.dataset, [image])
    siblings = Image.objects.filter(dataset=image.dataset)
    previous = (siblings.filter(position__lt=image.position).order_by("-position", "-id")
                .values_list("id", flat=True).first())
    following = (siblings.filter(position__gt=image.position).order_by("position", "id")
                 .values_list("id", flat=True).first())
    return image, previous, following


def _attach_drawables(dataset: Dataset, images: list[Image]) -> None:
    colours = dict(dataset.labels.values_list("id", "color"))
    names = dict(dataset.labels.values_list("id", "name"))
    links = {s.label_id: s.connections for s in Skeleton.objects.filter(dataset=dataset)}
    by_image: dict[int, list[dict]] = defaultdict(list)
    rows = Annotation.objects.filter(image__in=images).values_list(
        "image_id", "label_id", "kind", "xmin", "ymin", "xmax", "ymax", "geometry")
    for image_id, label_id, kind, x0, y0, x1, y1, geometry in rows:
        by_image[image_id].append(_drawable(kind, names[label_id], colours[label_id],
                                            (x0, y0, x1, y1), geometry, links.get(label_id, [])))
    for image in images:
        image.joint = f"{max(image.width, image.height) / 120:.1f}"
        image.drawables = [d for d in by_image[image.pk] if d["kind"] != "tag"]
        image.tags = [d for d in by_image[image.pk] if d["kind"] == "tag"]


def _drawable(kind: str, name: str, colour: str, box: tuple, geometry: dict | None,
              links: list) -> dict:
    drawable = {"kind": kind, "label": name, "color": colour}
    if box[0] is not None:
        x0, y0, x1, y1 = box
        drawable.update(x=x0, y=y0, w=x1 - x0, h=y1 - y0)
    if kind == "polygon":
        drawable["rings"] = [" ".join(f"{ring[i]:g},{ring[i + 1]:g}"
                                      for i in range(0, len(ring) - 1, 2))
                             for ring in geometry["rings"]]
    elif kind == "keypoints":
        points = geometry["points"]
        drawable["points"] = [{"x": x, "y": y} for x, y, v in points if v > 0]
        drawable["lines"] = [{"x1": points[a][0], "y1": points[a][1], "x2": points[b][0],
                              "y2": points[b][1]} for a, b in links
                             if a < len(points) and b < len(points)
                             and points[a][2] > 0 and points[b][2] > 0]
    return drawable


def dataset_import_jobs(dataset: Dataset) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(dataset=dataset).order_by("-created_at")


def import_job_for(user, job_id) -> ImportJob:
    """The user's import job; anyone else (or a job of someone else's dataset) gets a 404."""
    return get_object_or_404(ImportJob.objects.select_related("dataset"), pk=job_id, owner=user,
                             dataset__owner=user)


def report_kinds(report: dict) -> list[str]:
    """'12 boxes', '3 polygons' ... for a preview or a finished import."""
    by_kind = (report.get("annotations") or {}).get("by_kind") or {}
    return [kind_count_text(kind, by_kind[kind]) for kind in KIND_ORDER if by_kind.get(kind)]
