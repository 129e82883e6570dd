"""Fixtures for uploads: a dataset with a few images, an upload folder per test, and a guard
that asserts a refused upload changed nothing outside its own temporary folder."""

from __future__ import annotations

import html
import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from annotations.models import Annotation, ImportJob
from datasets.models import Image, Label, Skeleton
from datasets.services import dataset_create, image_create

# name -> (width, height): what the tests' annotation files refer to.
IMAGES = {"street.jpg": (640, 480), "plaza.png": (320, 240), "empty.jpg": (100, 80)}


def image_bytes(name: str, width: int, height: int, colour=(90, 120, 150), **save) -> bytes:
    canvas = PILImage.new("RGB", (width, height), colour)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG" if name.endswith(".png") else "JPEG", **save)
    return buffer.getvalue()


def make_zip(members: dict[str, bytes | str], **infos) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def files(**named: bytes | str) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name.replace("__", "."), data.encode() if isinstance(data, str)
                               else data) for name, data in named.items()]


def upload(client, dataset, uploads: dict[str, bytes | str], fmt: str = "", **extra):
    """POST files (name -> content) to the annotation upload, as a browser form does."""
    payload = [SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data)
               for name, data in uploads.items()]
    return client.post(reverse("annotations:upload", args=[dataset.pk]),
                       {"files": payload, "format": fmt}, **extra)


def text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    folder = tmp_path / "uploads"
    settings.NEXUS_UPLOAD_DIR = folder
    return folder


@pytest.fixture
def dataset(owner):
    dataset = dataset_create(owner=owner, name="Street")
    for colour, (name, (width, height)) in enumerate(IMAGES.items()):
        image_create(dataset=dataset, name=name, data=image_bytes(name, width, height,
                                                                  (colour * 40, 80, 120)))
    return dataset


def _var_files() -> dict[str, float]:
    root = Path(django_settings.VAR_DIR)
    skip = ("test.sqlite3", "nexus.sqlite3")
    return {str(p): p.stat().st_mtime for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(skip)}


def _rows() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Image, Label, Annotation, Skeleton, ImportJob)}


@pytest.fixture
def unchanged(dataset, upload_dir):
    """Call it after a refused upload: no row changed, no file outside the uploads folder was
    written, and the upload's own folder is gone."""
    rows, var = _rows(), _var_files()

    def check() -> None:
        assert _rows() == rows
        after = {k: v for k, v in _var_files().items() if not k.startswith(str(upload_dir))}
        assert after == {k: v for k, v in var.items() if not k.startswith(str(upload_dir))}
        leftovers = [p for p in upload_dir.rglob("*") if p.is_file()] \
            if upload_dir.exists() else []
        assert leftovers == []

    return check
