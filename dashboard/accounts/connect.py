"""Connecting Celigo accounts: checking a token, storing it encrypted, and scheduling the account's sync."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import transaction

from celigo_api import AuthenticationFailed, CeligoClient, CeligoError, InProcessLimiter, TokenInfo
from dashboard.env import CELIGO_REGIONS
from dashboard.models import AccountStatus, CeligoAccount

log = logging.getLogger(__name__)


class TokenCheckFailed(Exception):
    """The token did not pass ``tokenInfo``; the message is one line a person can act on."""


def check_token(
    token: str,
    *,
    region: str | None = None,
    base_url: str | None = None,
    region_urls: Mapping[str, str] = CELIGO_REGIONS,
) -> TokenInfo:
    """Call ``GET /v1/tokenInfo`` (docs/celigo-api.md §1.2). On 401, tell a wrong region from a dead token.

    Celigo's regions are isolated (§1.1): a token of one region is rejected by the others, so a 401 is
    followed by one probe per other region to say which region the token belongs to.
    """
    url = base_url or region_urls[region or "na"]
    try:
        return probe(token, url)
    except AuthenticationFailed:
        if not base_url:
            for other, other_url in region_urls.items():
                if other == (region or "na"):
                    continue
                try:
                    probe(token, other_url)
                except CeligoError:
                    continue
                raise TokenCheckFailed(
                    f"the token belongs to the {other.upper()} region ({other_url}), not "
                    f"{(region or 'na').upper()}; use --region {other}"
                ) from None
        raise TokenCheckFailed(
            f"Celigo at {url} rejected the token: it is revoked, expired or mistyped"
        ) from None
    except CeligoError as exc:
        raise TokenCheckFailed(f"could not check the token at {url}: {exc}") from None


def probe(token: str, base_url: str) -> TokenInfo:
    # A private limiter: a check must not wait behind a running sync's bucket, and costs one call.
    with CeligoClient(token, base_url=base_url, limiter=InProcessLimiter(), timeout=15, max_wait=5) as client:
        return client.token_info()


@transaction.atomic
def add_account(
    name: str,
    token: str,
    *,
    region: str | None = None,
    base_url: str | None = None,
    region_urls: Mapping[str, str] = CELIGO_REGIONS,
    **options: object,
) -> CeligoAccount:
    """Check the token, then store the account and its sync schedule. Raises :class:`TokenCheckFailed`."""
    info = check_token(token, region=region, base_url=base_url, region_urls=region_urls)
    account = CeligoAccount(
        name=name,
        region="" if base_url else (region or "na"),
        base_url=base_url or "",
        celigo_user_id=info.user_id or "",
        **options,
    )
    account.token = token
    account.full_clean(exclude=["token_encrypted", "token_last4"])
    account.save()  # its beat schedule follows through a post_save signal (dashboard.apps)
    return account


def ensure_account_from_environment() -> CeligoAccount | None:
    """With ``CELIGO_API_TOKEN`` set and no account yet, connect one (at worker start-up).

    A token that fails its check still creates the account, marked with the reason, so the problem shows
    on the overview instead of in a log nobody reads.
    """
    token = settings.CELIGO_API_TOKEN
    if not token or CeligoAccount.objects.exists():
        return None
    name = settings.CELIGO_ACCOUNT_NAME or "Celigo"
    base_url = settings.CELIGO_BASE_URL if settings.CELIGO_REGION is None else None
    try:
        return add_account(name, token, region=settings.CELIGO_REGION, base_url=base_url)
    except TokenCheckFailed as exc:
        log.warning("CELIGO_API_TOKEN: %s", exc)
        account = CeligoAccount(
            name=name,
            region=settings.CELIGO_REGION or "",
            base_url=base_url or "",
            status=AccountStatus.REVOKED,
            status_message=str(exc),
        )
        account.token = token
        account.save()
        return account
