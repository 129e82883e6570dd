"""The validation set, split modes and label options through the paths users take: the popup
(HTTP), its live preview, the worker task and the shell command."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from annotations.models import Annotation
from exports import tasks
from exports.models import ExportJob
from exports.services import job_file

from ..conftest import read_zip

HX = {"HTTP_HX_REQUEST": "true"}


def post(client, dataset, name, data):
    return client.post(reverse(f"exports:{name}", args=[dataset.pk]), data, **HX)


def manifest_of(members: dict[str, bytes]) -> dict:
    return json.loads(next(data for name, data in members.items()
                           if name.endswith("/manifest.json")))


def test_the_popup_exports_a_stratified_three_way_split_with_renamed_and_merged_labels(
        owner_client, demo):
    data = {"format": "yolo_darknet", "normalized": "on", "split_ratio": "0.25",
            "valid_ratio": "0.25", "split_mode": "stratified", "include_images": "on",
            "shuffle": "on", "seed": "4", "labels_listed": "1",
            "labels": ["car", "traffic light", "person"], "rename:traffic light": "car"}
    response = post(owner_client, demo, "create", data)
    assert response.status_code == 200
    job = ExportJob.objects.get()
    assert job.options["labels"] == ["car", "traffic light", "person"]
    assert job.options["rename"] == {"traffic light": "car"}
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    members = read_zip(str(job_file(job)))
    manifest = manifest_of(members)
    assert manifest["labels"] == ["car", "person"]
    n = demo.images.count()
    assert {name: c["images"] for name, c in manifest["sets"].items()} == \
        {"train": n - 2 * round(n / 4), "valid": round(n / 4), "test": round(n / 4)}
    top = job.file_name[:-4]
    assert members[f"{top}/data.yaml"].decode().endswith(
        "val: valid/images\ntest: test/images\n")
    for set_name in ("train", "valid", "test"):
        assert members[f"{top}/{set_name}/classes.txt"] == b"car\nperson\n"
    unselected = Annotation.objects.filter(label__dataset=demo).exclude(
        label__name__in=["car", "traffic light", "person"]).count()
    assert manifest["dropped"]["label"] == unselected


def test_shares_over_one_are_refused_in_the_popup_with_the_field_named(owner_client, demo):
    response = post(owner_client, demo, "create", {"format": "coco", "split_ratio": "0.8",
                                                   "valid_ratio": "0.3"})
    assert response.status_code == 422
    assert "add up to 1.1; together they must be at most 1." in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_popup_lists_the_labels_preselected_for_the_family(owner_client, demo):
    kinds = {}
    for name, kind in Annotation.objects.filter(label__dataset=demo).values_list(
            "label__name", "kind"):
        kinds.setdefault(name, set()).add(kind)
    tag_only = sorted(name for name, found in kinds.items() if found == {"tag"})
    assert tag_only  # the demo has image-level tags
    html = owner_client.get(reverse("exports:labels", args=[demo.pk]),
                            {"format": "yolo_darknet"}).content.decode()
    for name in tag_only:
        assert f'value="{name}">' in html  # listed, not checked
    assert 'value="car" checked>' in html
    html = owner_client.get(reverse("exports:labels", args=[demo.pk]),
                            {"format": "csv_classification"}).content.decode()
    assert all(f'value="{name}" checked>' in html for name in tag_only)
    assert 'value="car">' in html  # no car tag in the demo: not a class there


def test_the_preview_counts_each_set_and_says_what_is_converted(owner_client, demo):
    response = post(owner_client, demo, "preview", {"format": "pascal_voc", "split_ratio": "0.5",
                                                    "include_images": "on"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<th scope=\"col\">train</th><th scope=\"col\">test</th>" in html
    polygons = Annotation.objects.filter(label__dataset=demo, kind="polygon").count()
    assert f"{polygons} polygons written as boxes" in html
    # The tag-only labels are not classes of a box format (FORMATS.md §1): dropped as labels.
    tag_only = Annotation.objects.filter(label__dataset=demo).exclude(
        label__annotations__kind__in=["box", "polygon", "mask", "keypoints"]).count()
    assert tag_only and f"{tag_only} annotations of unselected labels not written" in html


@pytest.mark.parametrize("options", [
    {"format": "pascal_voc", "split_ratio": "0.5"},
    {"format": "csv_fourcorner", "split_ratio": "0.3", "valid_ratio": "0.2",
     "split_mode": "stratified"},
    {"format": "coco", "split_ratio": "0.25", "annotated_only": "on", "labels_listed": "1",
     "labels": ["puddle", "traffic light"], "rename:traffic light": "puddle"},
    {"format": "polygon_coco", "split_ratio": "0.3", "split_mode": "stable", "shuffle": "on",
     "seed": "9"},
    {"format": "csv_classification", "valid_ratio": "0.5"},
])
def test_the_preview_table_is_what_the_export_then_writes(owner_client, demo, options):
    html = post(owner_client, demo, "preview", options).content.decode()
    post(owner_client, demo, "create", options)
    job = ExportJob.objects.get()
    assert tasks.run_export(str(job.pk)) == "finished"
    job.refresh_from_db()
    footer = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    totals = re.findall(r"<td>(\d+) / (\d+)</td>", footer)
    assert [(int(i), int(a)) for i, a in totals] == \
        [(c["images"], c["annotations"]) for c in job.counts.values()]
    headers = re.findall(r'<th scope="col">(\w+)</th>', html)
    assert headers == ["Class", *job.counts]


def test_the_preview_warns_of_each_class_the_test_set_will_miss(owner_client, demo):
    options = {"format": "coco", "split_ratio": "0.1", "include_images": "on"}
    html = post(owner_client, demo, "preview", options).content.decode()
    warned = set(re.findall(r"&#x27;([^&]+)&#x27; has no image in test\.", html))
    assert warned
    post(owner_client, demo, "create", options)
    job = ExportJob.objects.get()
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    members = read_zip(str(job_file(job)))
    test = json.loads(members[f"{job.file_name[:-4]}/test/_annotations.coco.json"])
    names = {c["id"]: c["name"] for c in test["categories"]}
    present = {names[a["category_id"]] for a in test["annotations"]}
    assert warned == set(names.values()) - present


def test_the_command_exports_a_stable_split_with_labels_chosen_and_renamed(demo, tmp_path,
                                                                          capsys):
    out = tmp_path / "out.zip"
    call_command("export_annotations", str(demo.pk), "--format", "coco", "--split", "0.3",
                 "--valid", "0.2", "--split-mode", "stable", "--label", "car", "--label", "person",
                 "--rename", "car=vehicle", "--annotated-only", "-o", str(out))
    manifest = manifest_of(read_zip(str(out)))
    assert manifest["labels"] == ["vehicle", "person"]
    assert manifest["options"] | {"seed": 0} == manifest["options"]  # stable: seed 0
    assert (manifest["options"]["split_mode"], manifest["options"]["annotated_only"]) == \
        ("stable", True)
    with_either = demo.images.filter(annotations__label__name__in=["car", "person"],
                                     annotations__kind__in=["box", "polygon", "mask",
                                                            "keypoints"]).distinct().count()
    assert sum(c["images"] for c in manifest["sets"].values()) == with_either
    assert "Wrote" in capsys.readouterr().out
    # The same command again: every image in the same set.
    again = tmp_path / "again.zip"
    call_command("export_annotations", str(demo.pk), "--format", "coco", "--split", "0.3",
                 "--valid", "0.2", "--split-mode", "stable", "--label", "car", "--label", "person",
                 "--rename", "car=vehicle", "--annotated-only", "-o", str(again))
    assert manifest_of(read_zip(str(again)))["sets"] == manifest["sets"]


def test_export_again_keeps_every_option(owner_client, demo):
    data = {"format": "coco", "split_ratio": "0.25", "valid_ratio": "0.25",
            "split_mode": "stable", "annotated_only": "on", "labels_listed": "1",
            "labels": ["car", "person"], "rename:car": "vehicle"}
    assert post(owner_client, demo, "create", data).status_code == 200
    first = ExportJob.objects.get()
    assert tasks.run_export(str(first.pk)) == "finished"
    first.refresh_from_db()
    response = owner_client.post(reverse("exports:again", args=[first.pk]), **HX)
    assert response.status_code == 200
    again = ExportJob.objects.exclude(pk=first.pk).get()
    assert again.options == first.options
    assert tasks.run_export(str(again.pk)) == "finished"
    again.refresh_from_db()
    first_manifest = manifest_of(read_zip(str(job_file(first))))
    again_manifest = manifest_of(read_zip(str(job_file(again))))
    assert again_manifest["sets"] == first_manifest["sets"]
    assert again_manifest["options"] == first_manifest["options"]
