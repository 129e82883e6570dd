"""Bearer-token authentication: `Authorization: Bearer nxs_…`, checked on every request.

Nothing is cached, so a revoked token (or a deactivated user) stops working at the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from .errors import AuthenticationRequired, InvalidToken
from .models import ApiToken

TOKEN_PREFIX = "nxs_"  # recognisable in logs and by secret scanners
SHOWN_PREFIX = len(TOKEN_PREFIX) + 6
# Writing last_used on every poll would turn each status check into a write; a minute is precise
# enough for "last used".
LAST_USED_PRECISION = timedelta(minutes=1)


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def bearer_secret(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if not header:
        raise AuthenticationRequired("Send your API token as 'Authorization: Bearer <token>'. "
                                     "Create one on your account page.")
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationRequired("The Authorization header must be 'Bearer <token>'.")
    return secret.strip()


def authenticate(request: HttpRequest) -> AbstractBaseUser:
    """The active owner of the request's active token; raises a 401 ApiError otherwise."""
    secret = bearer_secret(request)
    token = (ApiToken.objects.select_related("owner")
             .filter(token_hash=hash_secret(secret), revoked=None, owner__is_active=True).first())
    if token is None:
        raise InvalidToken("This API token is not valid: it was revoked, or never existed.")
    _touch(token)
    return token.owner


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    (ApiToken.objects.filter(pk=token.pk)
     .filter(Q(last_used=None) | Q(last_used__lt=now - LAST_USED_PRECISION))
     .update(last_used=now))
