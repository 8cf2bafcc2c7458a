"""A person's API tokens: list them, make one (its secret is shown on the answer page, once), revoke one.
Admins see and revoke everyone's (``access.visible_api_tokens``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import can_manage_people, visible_api_tokens
from dashboard.actions.tokens import (
    MAX_EXPIRY_DAYS,
    TokenRejected,
    do_create_token,
    do_revoke_token,
    expiry_in,
)
from dashboard.models import TokenScope
from dashboard.views.paging import page_number

TOKENS_PAGE_SIZE = 50


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, required=False, help_text="What it is for, e.g. “warehouse sync”.")
    scope = forms.ChoiceField(choices=TokenScope.choices, initial=TokenScope.READ)
    expires_days = forms.IntegerField(
        min_value=1, max_value=MAX_EXPIRY_DAYS, required=False, help_text="Leave empty for no expiry."
    )


@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, secret = do_create_token(
                request.user,
                request.user,
                scope=data["scope"],
                name=data["name"],
                expires_at=expiry_in(data["expires_days"]),
            )
        except TokenRejected as exc:
            form.add_error(None, str(exc))
        else:
            # Rendered, not redirected: the secret must not travel through the session or a URL.
            context.update({"new_token": token, "secret": secret})
            form = TokenForm()
    tokens = visible_api_tokens(request.user).select_related("user").order_by("-created_at", "-id")
    page = Paginator(tokens, TOKENS_PAGE_SIZE).get_page(page_number(request))
    context.update(
        {
            "form": form,
            "tokens": page.object_list,
            "everyone": can_manage_people(request.user),
            "page": page.number,
            "has_previous": page.has_previous(),
            "has_next": page.has_next(),
        }
    )
    return render(request, "tokens/list.html", context)


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(visible_api_tokens(request.user).select_related("user"), pk=pk)
    if do_revoke_token(request.user, token):
        messages.success(request, f"Revoked the token ed_{token.prefix}…; it no longer works.")
    return redirect("token-list")
