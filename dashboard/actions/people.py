"""Managing people: adding them, their role and restriction, deactivating them, and set-password links.

Each change is recorded as an ``AuditEvent`` in the same transaction as the change. The guards keep the desk
manageable: nobody demotes or deactivates themselves, the last active admin stays one, and only a superuser
may deactivate or reactivate a superuser or issue their set-password link (a link is a way into the account).
A new person has no usable password: they choose one through a one-time link an admin passes on or that is
e-mailed to them (``mail_password_link``; mail is optional, ``EMAIL_URL``).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from dashboard import audit
from dashboard.models import ROLE_RANK, AuditKind, Profile, Role, Team, TeamMembership

logger = logging.getLogger(__name__)

Actor = AbstractBaseUser | AnonymousUser | None
# Active people who are admins: by their profile, or as superusers whatever their profile says.
ACTIVE_ADMINS = Q(is_active=True) & (Q(is_superuser=True) | Q(profile__role=Role.ADMIN))


class PersonChangeRejected(ValueError):
    """The change is invalid; ``field`` names the form field, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Mailed(enum.Enum):
    """What became of the e-mail carrying a set-password link."""

    SENT = "sent"
    FAILED = "failed"
    NOT_CONFIGURED = "not configured"
    NO_ADDRESS = "no address"


# --- Adding a person ---------------------------------------------------------------------------------


def do_add_person(
    actor: Actor,
    *,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = Role.VIEWER,
    restricted: bool = False,
    teams: Iterable[Team] = (),
) -> Any:
    """A new person with ``role``, a plain member of ``teams``, and no usable password yet."""
    check_role(role)
    fields = {"username": username.strip(), "email": email.strip()}
    fields |= {"first_name": first_name.strip(), "last_name": last_name.strip()}
    for name, value in fields.items():
        check_field(name, value)
    check_username_free(fields["username"])
    teams = list(teams)
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(**fields)  # no password given: an unusable one
            Profile.objects.create(user=user, role=role, restricted=restricted)
            TeamMembership.objects.bulk_create(TeamMembership(team=team, user=user) for team in teams)
            audit.record(
                actor,
                AuditKind.PERSON_ADDED,
                user=user,
                username=user.get_username(),
                email=fields["email"],
                role=role,
                restricted=restricted,
                teams=[team.name for team in teams],
            )
    except IntegrityError:
        raise username_taken(fields["username"]) from None  # added by someone else meanwhile
    return user


def check_field(name: str, value: str) -> None:
    """The user model's own rules for the field (length, the username's characters, a valid address)."""
    field = get_user_model()._meta.get_field(name)
    if name in {"username", "email"} and not value:
        raise PersonChangeRejected(name, "this field is required")
    try:
        field.clean(value, None)  # type: ignore[union-attr]
    except ValidationError as exc:
        raise PersonChangeRejected(name, " ".join(exc.messages)) from None


def check_username_free(username: str) -> None:
    if get_user_model().objects.filter(username__iexact=username).exists():
        raise username_taken(username)


def username_taken(username: str) -> PersonChangeRejected:
    return PersonChangeRejected("username", f"someone is already called “{username}”")


def check_role(role: str) -> None:
    if role not in Role.values:
        raise PersonChangeRejected("role", "choose viewer, triager, lead or admin")


# --- Role and restriction ----------------------------------------------------------------------------


def do_set_role(actor: Actor, user: AbstractBaseUser, role: str) -> bool:
    """Give ``user`` the org-wide ``role``; returns whether it changed."""
    check_role(role)
    if getattr(user, "is_superuser", False):
        raise PersonChangeRejected(
            "role", f"{user.get_username()} is a superuser, an admin whatever their role says"
        )
    with transaction.atomic():
        lock_admins()
        profile = profile_for_update(user)
        before = profile.role
        if before == role:
            return False
        if before == Role.ADMIN and ROLE_RANK[Role(role)] < ROLE_RANK[Role.ADMIN]:
            check_not_self(actor, user, "role", "you cannot demote yourself; ask another admin")
            check_not_last_admin(user, "role", "demoted")
        profile.role = role
        profile.save(update_fields=["role"])
        change: dict[str, Any] = {"from": before, "to": role}
        audit.record(actor, AuditKind.ROLE_CHANGED, user=user, username=user.get_username(), **change)
    return True


def do_set_restricted(actor: Actor, user: AbstractBaseUser, restricted: bool) -> bool:
    """Restrict ``user`` to their teams' errors, or lift it; returns whether it changed.

    Leads and admins keep the flag but see everything while their role is that high (``access``).
    """
    with transaction.atomic():
        profile = profile_for_update(user)
        before = profile.restricted
        if before == restricted:
            return False
        profile.restricted = restricted
        profile.save(update_fields=["restricted"])
        change: dict[str, Any] = {"from": before, "to": restricted}
        audit.record(actor, AuditKind.RESTRICTION_CHANGED, user=user, username=user.get_username(), **change)
    return True


def profile_for_update(user: AbstractBaseUser) -> Profile:
    profile, _ = Profile.objects.select_for_update().get_or_create(user_id=user.pk)
    return profile


# --- Deactivating and reactivating -------------------------------------------------------------------


def do_deactivate_person(actor: Actor, user: AbstractBaseUser) -> bool:
    """``user`` can no longer log in and counts as nobody everywhere; returns whether that changed."""
    with transaction.atomic():
        lock_admins()
        if not is_active(user):
            return False
        check_not_self(actor, user, "active", "you cannot deactivate yourself; ask another admin")
        check_superuser_actor(actor, user, "active", "deactivate")
        if is_admin(user):
            check_not_last_admin(user, "active", "deactivated")
        set_active(actor, user, False, AuditKind.PERSON_DEACTIVATED)
    return True


def do_reactivate_person(actor: Actor, user: AbstractBaseUser) -> bool:
    """``user`` may log in again with the role, restriction and teams they had; returns whether it changed."""
    with transaction.atomic():
        if is_active(user):
            return False
        check_superuser_actor(actor, user, "active", "reactivate")
        set_active(actor, user, True, AuditKind.PERSON_REACTIVATED)
    return True


def is_active(user: AbstractBaseUser) -> bool:
    """As stored now, read under a lock: the object in hand may be stale."""
    stored = (
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("is_active", flat=True)
    )
    return bool(stored.first())


def set_active(actor: Actor, user: AbstractBaseUser, active: bool, kind: str) -> None:
    get_user_model().objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    audit.record(actor, kind, user=user, username=user.get_username())


# --- Guards ------------------------------------------------------------------------------------------


def lock_admins() -> None:
    """Serialise changes that could remove an admin, so two admins cannot demote each other at once."""
    list(get_user_model().objects.select_for_update(of=("self",)).filter(ACTIVE_ADMINS).values_list("pk"))


def is_admin(user: AbstractBaseUser) -> bool:
    return get_user_model().objects.filter(ACTIVE_ADMINS, pk=user.pk).exists()


def check_not_last_admin(user: AbstractBaseUser, field: str, what: str) -> None:
    if not get_user_model().objects.filter(ACTIVE_ADMINS).exclude(pk=user.pk).exists():
        raise PersonChangeRejected(
            field,
            f"{user.get_username()} is the last active admin and cannot be {what}; make another admin first",
        )


def check_not_self(actor: Actor, user: AbstractBaseUser, field: str, reason: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise PersonChangeRejected(field, reason)


def check_superuser_actor(actor: Actor, user: AbstractBaseUser, field: str, verb: str) -> None:
    """An admin by role may not take over or lock out a superuser, who has more rights than they do."""
    if getattr(user, "is_superuser", False) and not getattr(actor, "is_superuser", actor is None):
        raise PersonChangeRejected(field, f"only a superuser may {verb} the superuser {user.get_username()}")


# --- Set-password links ------------------------------------------------------------------------------


def do_issue_password_link(actor: Actor, user: AbstractBaseUser, *, base_url: str) -> str:
    """A one-time link (absolute, on ``base_url``) with which ``user`` chooses a new password.

    It stops working once a password is set (Django's token covers the password hash and the last login),
    when it expires (``PASSWORD_RESET_TIMEOUT``), or while the person is deactivated.
    """
    check_superuser_actor(actor, user, "user", "issue a set-password link for")
    if not user.is_active:
        raise PersonChangeRejected("active", f"{user.get_username()} is deactivated; reactivate them first")
    kwargs = {
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),  # type: ignore[arg-type]  # the stubs want auth.User
    }
    audit.record(actor, AuditKind.PASSWORD_LINK_ISSUED, user=user, username=user.get_username())
    return urljoin(base_url, reverse("password-set", kwargs=kwargs))


def link_valid_days() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // (24 * 3600))


def mail_password_link(user: AbstractBaseUser, link: str, *, welcome: bool) -> Mailed:
    """E-mail the link to the person when mail is configured; a failure is logged and reported, not raised."""
    address = getattr(user, "email", "")
    if not settings.EMAIL_CONFIGURED:
        return Mailed.NOT_CONFIGURED
    if not address:
        return Mailed.NO_ADDRESS
    context = {"person": user, "link": link, "welcome": welcome, "valid_days": link_valid_days()}
    subject = "Welcome to Error Desk: choose your password" if welcome else "Choose a new Error Desk password"
    try:
        send_mail(subject, render_to_string("people/email/password_link.txt", context), None, [address])
    except Exception:  # SMTP, DNS, TLS, a refused sender: the admin still has the link to pass on
        logger.warning("could not e-mail a set-password link to %s", user.get_username(), exc_info=True)
        return Mailed.FAILED
    return Mailed.SENT
