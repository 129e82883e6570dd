"""Signed download links that work without a session until the job expires."""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

SALT = "exports.download-link"


def signed_token(job) -> str:
    return signing.dumps({"job": str(job.pk), "owner": job.owner_id}, salt=SALT, compress=True)


def signed_path(job) -> str:
    return reverse("exports:signed_download", args=[signed_token(job)])


def read_token(token: str) -> dict:
    """The signed payload; raises signing.BadSignature when tampered or signed for another use."""
    payload = signing.loads(token, salt=SALT)
    if not isinstance(payload, dict) or "job" not in payload or "owner" not in payload:
        raise signing.BadSignature("malformed link")
    return payload
