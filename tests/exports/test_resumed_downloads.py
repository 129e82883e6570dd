"""A large zip is resumable: a download cut short continues with a Range request, through HTTP
like a browser or `curl -C -`."""

from __future__ import annotations

from django.urls import reverse

from ..conftest import read_zip
from .test_views import finished_job


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_download_resumes_where_it_stopped(owner_client, demo):
    job = finished_job(owner_client, demo)
    url = reverse("exports:download", args=[job.pk])
    whole = owner_client.get(url)
    data = body(whole)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    size, cut = len(data), len(data) // 3
    rest = owner_client.get(url, HTTP_RANGE=f"bytes={cut}-", HTTP_IF_RANGE=whole["ETag"])
    assert rest.status_code == 206
    assert rest["Content-Range"] == f"bytes {cut}-{size - 1}/{size}"
    assert rest["Content-Length"] == str(size - cut)
    resumed = data[:cut] + body(rest)
    assert resumed == data and read_zip(resumed)
    middle = owner_client.get(url, HTTP_RANGE="bytes=10-19")
    assert (middle.status_code, body(middle)) == (206, data[10:20])
    tail = owner_client.get(url, HTTP_RANGE="bytes=-22")  # the zip's end record
    assert (tail.status_code, body(tail)) == (206, data[-22:])


def test_ranges_that_cannot_be_served(owner_client, demo):
    job = finished_job(owner_client, demo)
    url = reverse("exports:download", args=[job.pk])
    size = len(body(owner_client.get(url)))
    past = owner_client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{size}"
    changed = owner_client.get(url, HTTP_RANGE="bytes=5-", HTTP_IF_RANGE='"another file"')
    assert changed.status_code == 200 and len(body(changed)) == size  # the file changed: all
    several = owner_client.get(url, HTTP_RANGE="bytes=0-1, 5-6")
    assert several.status_code == 200 and len(body(several)) == size


def test_a_signed_link_resumes_too(owner_client, client, demo):
    from exports import links

    job = finished_job(owner_client, demo)
    response = client.get(links.signed_path(job), HTTP_RANGE="bytes=0-3")
    assert (response.status_code, body(response)) == (206, b"PK\x03\x04")
