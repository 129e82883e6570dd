"""Writes of the API: tokens, and export creation under the per-user limit."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotations.formats.options import ExportOptions
from datasets.models import Dataset
from exports.models import ExportJob
from exports.services import export_job_create

from . import auth
from .errors import InvalidOption, TooManyExports, UnusableOption
from .models import ApiToken

RETRY_AFTER_SECONDS = 30


def token_create(*, owner: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is returned here once and never stored."""
    secret = auth.new_secret()
    token = ApiToken.objects.create(owner=owner, name=name.strip(),
                                    prefix=secret[:auth.SHOWN_PREFIX],
                                    token_hash=auth.hash_secret(secret))
    return token, secret


def token_revoke(*, token: ApiToken) -> bool:
    """Revoke at once (the next request with it gets a 401); the row stays for the list."""
    return bool(ApiToken.objects.filter(pk=token.pk, revoked=None).update(revoked=timezone.now()))


def api_export_create(*, owner: AbstractBaseUser, dataset: Dataset, format_id: str,
                      options: ExportOptions) -> tuple[ExportJob, bool]:
    """export_job_create, refused with 429 when the owner already has the maximum number of
    exports queued or running.

    Queued jobs count: a script creating exports in a loop gets them all queued at once, so
    counting only running jobs would never push back. An identical active job is returned even
    at the limit, as it adds no work. The owner's row is locked so two requests cannot both pass.
    """
    limit = settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        active = ExportJob.objects.filter(owner=owner, status__in=ExportJob.ACTIVE).count()
        try:
            job, created = export_job_create(owner=owner, dataset=dataset, format_id=format_id,
                                             options=options)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"format": exc.messages}
            field, messages = next(iter(errors.items()))
            if field == "format":
                raise InvalidOption(messages[0], field=field)
            raise UnusableOption(messages[0], field=f"options.{field}")
        if created and active >= limit:
            # Raising inside the atomic block rolls the new job back, and its enqueue with it
            # (on_commit callbacks of a rolled-back block never run).
            raise TooManyExports(
                f"You have {active} exports queued or running; the limit is {limit}. Wait for "
                f"one to finish (or cancel one), then try again.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return job, created
