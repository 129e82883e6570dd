"""Every endpoint x every kind of user: only the owner gets in (issue: access control)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from annotations.formats.options import ExportOptions
from exports import links, tasks
from exports.models import ExportJob
from exports.services import export_job_create

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def finished(demo):
    export_options = ExportOptions(normalized=False, shuffle=False, seed=None, split_ratio=0.0,
                                   include_images=False)
    job, _ = export_job_create(owner=demo.owner, dataset=demo, format_id="coco",
                               options=export_options, enqueue=False)
    tasks.run_export(str(job.pk))
    job.refresh_from_db()
    return job


def endpoints(demo, job):
    image = demo.images.first()
    return [
        ("get", reverse("datasets:detail", args=[demo.pk])),
        ("get", reverse("annotations:tab", args=[demo.pk])),
        ("get", reverse("annotations:legend", args=[demo.pk])),
        ("get", reverse("annotations:image", args=[image.pk])),
        ("get", reverse("datasets:image_thumbnail", args=[image.pk])),
        ("get", reverse("datasets:image_file", args=[image.pk])),
        ("get", reverse("exports:create", args=[demo.pk])),
        ("post", reverse("exports:create", args=[demo.pk])),
        ("get", reverse("exports:jobs", args=[demo.pk])),
        ("get", reverse("exports:download", args=[job.pk])),
        ("post", reverse("exports:again", args=[job.pk])),
        ("post", reverse("exports:cancel", args=[job.pk])),
    ]


@pytest.mark.parametrize("who", ["owner", "stranger", "staff", "anonymous"])
def test_only_the_owner_reaches_a_dataset_and_its_jobs(client, demo, finished, who):
    user_model = get_user_model()
    if who == "owner":
        client.force_login(demo.owner)
    elif who == "stranger":
        client.force_login(user_model.objects.create_user("stranger2", password="x" * 12))
    elif who == "staff":
        client.force_login(user_model.objects.create_user("staff", password="x" * 12,
                                                          is_staff=True))
    for method, url in endpoints(demo, finished):
        data = {"format": "coco", "split_ratio": "0"} if method == "post" else None
        response = getattr(client, method)(url, data, HTTP_HX_REQUEST="true")  # as the page asks
        if who == "owner":
            assert response.status_code in (200, 201), (url, response.status_code)
        elif who == "anonymous":
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url
        else:
            assert response.status_code == 404, (who, url, response.status_code)
    # The owner's "create" and "export again" ask for the same options: one new job, not two.
    assert ExportJob.objects.filter(owner=demo.owner).exclude(pk=finished.pk).count() == \
        (1 if who == "owner" else 0)


def test_state_changing_requests_need_the_csrf_token(demo, finished):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(demo.owner)
    response = client.post(reverse("exports:create", args=[demo.pk]), {"format": "coco"})
    assert response.status_code == 403
    assert client.post(reverse("exports:cancel", args=[finished.pk])).status_code == 403
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.formats.canonical import canonical_images, image_bytes
    picture = SimpleUploadedFile("new.png", image_bytes(canonical_images()[1]))
    before = demo.images.count()
    response = client.post(reverse("datasets:images_upload", args=[demo.pk]), {"files": [picture]})
    assert response.status_code == 403 and demo.images.count() == before


def test_downloads_are_private_attachments(client, demo, finished):
    response = client.get(links.signed_path(finished))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{finished.file_name}"')
    assert f"filename*=UTF-8''{finished.file_name}" in disposition


def test_production_settings_pass_the_deploy_check():
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "nexus.settings.prod",
           "NEXUS_SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-for-the-check-42",
           "NEXUS_ALLOWED_HOSTS": "nexus.example.org"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                             "--fail-level", "WARNING"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
