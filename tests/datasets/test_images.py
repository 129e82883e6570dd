"""Uploading images from the browser: several files or a zip, reported file by file."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from datasets.models import Image

from ..uploads.conftest import image_bytes, make_zip, text


def post(client, dataset, *named: tuple[str, bytes], **extra):
    return client.post(reverse("datasets:images_upload", args=[dataset.pk]),
                       {"files": [SimpleUploadedFile(n, d) for n, d in named]}, **extra)


def rotated_jpeg(width: int, height: int, orientation: int = 6) -> bytes:
    """Pixels stored sideways with an EXIF orientation, as phones write them."""
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="JPEG",
                                                              exif=exif.tobytes())
    return buffer.getvalue()


def test_the_upload_page_has_a_drop_zone_a_progress_bar_and_its_script(owner_client, dataset):
    page = text(owner_client.get(reverse("datasets:images_upload", args=[dataset.pk])))
    assert 'class="drop-zone"' in page and 'type="file" name="files" multiple' in page
    assert "<progress" in page and "js/uploads.js" in page and 'data-batch="50"' in page


def test_several_files_are_stored_with_their_sizes(owner_client, dataset):
    response = post(owner_client, dataset, ("a.jpg", image_bytes("a.jpg", 64, 48)),
                    ("b.png", image_bytes("b.png", 30, 20, (9, 9, 9))))
    assert response.status_code == 200
    page = text(response)
    assert "2 stored</strong> · 0 duplicates · 0 rejected" in page
    assert "a.jpg <span class=\"muted\">64×48</span>" in page
    stored = dict(Image.objects.filter(dataset=dataset).values_list("original_name", "width"))
    assert stored["a.jpg"] == 64 and stored["b.png"] == 30


def test_a_zip_of_images_is_stored_and_other_files_are_skipped(owner_client, dataset):
    data = make_zip({"photos/x.jpg": image_bytes("x.jpg", 10, 10, (1, 1, 1)),
                     "photos/deep/y.png": image_bytes("y.png", 12, 8, (2, 2, 2)),
                     "__MACOSX/photos/._x.jpg": b"junk", "photos/.DS_Store": b"junk",
                     "photos/labels.csv": "filename,label\n"})
    response = post(owner_client, dataset, ("photos.zip", data))
    assert response.status_code == 200
    assert "2 stored</strong> · 0 duplicates · 0 rejected · 3 other files skipped" in \
        text(response)
    names = set(Image.objects.filter(dataset=dataset).values_list("original_name", flat=True))
    assert {"x.jpg", "y.png"} <= names


def test_the_same_content_is_reported_as_a_duplicate_not_stored_twice(owner_client, dataset):
    data = image_bytes("a.jpg", 50, 40, (7, 7, 7))
    before = Image.objects.count()
    response = post(owner_client, dataset, ("a.jpg", data), ("copy.jpg", data))
    page = text(response)
    assert "1 stored</strong> · 1 duplicate · 0 rejected" in page
    assert "copy.jpg: same content as a.jpg" in page
    again = text(post(owner_client, dataset, ("again.jpg", data)))
    assert "0 stored</strong> · 1 duplicate" in again
    assert Image.objects.count() == before + 1


def test_exif_orientation_is_applied_to_the_size_and_the_thumbnail(owner_client, dataset):
    response = post(owner_client, dataset, ("phone.jpg", rotated_jpeg(200, 100)))
    assert "phone.jpg <span class=\"muted\">100×200</span>" in text(response)
    image = Image.objects.get(original_name="phone.jpg")
    assert (image.width, image.height) == (100, 200)
    with image.file.open("rb") as handle, PILImage.open(handle) as stored:
        assert stored.size == (100, 200) and stored.getexif().get(0x0112) is None
    thumb = owner_client.get(reverse("datasets:image_thumbnail", args=[image.pk]))
    with PILImage.open(io.BytesIO(b"".join(thumb.streaming_content))) as picture:
        assert picture.width < picture.height


def test_files_that_are_not_images_are_rejected_with_the_reason(owner_client, dataset):
    response = post(owner_client, dataset, ("notes.txt", b"hello"),
                    ("half.jpg", image_bytes("h.jpg", 40, 40)[:200]))
    assert response.status_code == 422
    page = text(response)
    assert "0 stored</strong> · 0 duplicates · 2 rejected" in page
    assert "notes.txt: not an image (JPEG, PNG, WebP, BMP, TIFF or GIF expected)" in page
    assert "half.jpg: not a readable image (" in page
    assert not Image.objects.filter(original_name__in=["notes.txt", "half.jpg"]).exists()


def test_one_bad_file_does_not_stop_the_others(owner_client, dataset):
    response = post(owner_client, dataset, ("notes.txt", b"hello"),
                    ("ok.png", image_bytes("ok.png", 5, 5, (3, 4, 5))))
    assert response.status_code == 200
    assert "1 stored</strong> · 0 duplicates · 1 rejected" in text(response)


def test_an_image_over_the_byte_limit_for_one_image_is_rejected(owner_client, dataset, settings):
    settings.NEXUS_MAX_IMAGE_BYTES = 100
    data = make_zip({"big.png": image_bytes("big.png", 64, 64, (5, 6, 7))})
    response = post(owner_client, dataset, ("photos.zip", data))
    assert "big.png: the file is larger than the limit of 100 bytes for one image" in \
        text(response)


def test_the_stored_file_follows_the_decoded_format_not_the_name(owner_client, dataset):
    post(owner_client, dataset, ("evil.html", image_bytes("x.png", 8, 8, (1, 2, 3))))
    image = Image.objects.get(original_name="evil.html")
    assert image.file.name.endswith(".png")
    response = owner_client.get(reverse("datasets:image_file", args=[image.pk]))
    assert response["Content-Type"] == "image/png"


def test_a_script_upload_gets_the_report_fragment(owner_client, dataset):
    response = post(owner_client, dataset, ("s.png", image_bytes("s.png", 5, 6, (8, 8, 8))),
                    HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 200
    assert text(response).lstrip().startswith('<section class="card upload-report"')


@pytest.mark.parametrize("count", [3])
def test_too_many_files_in_one_request_are_refused(owner_client, dataset, settings, count):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = post(owner_client, dataset,
                    *[(f"{i}.png", image_bytes("a.png", 4, 4, (i, i, i))) for i in range(count)])
    assert response.status_code == 400
    assert "At most 2 files can be sent at once; put more in a zip." in text(response)
    assert Image.objects.filter(original_name="0.png").count() == 0
