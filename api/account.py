"""The account page: personal API tokens, created (secret shown once), listed and revoked.

Ordinary session pages with CSRF, unlike the JSON API.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True,
                           help_text="What uses it, e.g. \"training cluster\".")


@require_http_methods(["GET", "POST"])
def account_page(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    created = secret = None
    if form.is_bound and form.is_valid():
        created, secret = services.token_create(owner=request.user,
                                                name=form.cleaned_data["name"])
        form = TokenForm()
    context = {"form": form, "tokens": selectors.tokens_for(request.user), "created": created,
               "secret": secret,
               "api_root": request.build_absolute_uri(reverse("api:openapi")
                                                      ).removesuffix("openapi.json")}
    # The secret is rendered straight into this response (no redirect), so it never sits in the
    # session or a URL; no-store keeps it out of the browser's cache and history.
    response = render(request, "api/account.html", context,
                      status=422 if form.is_bound and form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    services.token_revoke(token=selectors.token_for(request.user, pk))
    return redirect("api:account")
