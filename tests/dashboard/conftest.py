"""Named personas for the view tests: who is asking, built to mean today what it will mean with roles.

Error Desk has one permission today, ``dashboard.act_on_errors``; roles (viewer, triager, lead, admin),
teams and members "restricted to my teams" come next. Each persona is built so its name already tells what
it may do:

- ``admin``: a superuser and staff member; may do everything, Django admin included.
- ``lead``: may act on errors (will hold the lead role).
- ``triager``: may act on errors (will hold the triager role).
- ``viewer``: logged in, no permission at all: reads, never acts.
- ``restricted``: may act on errors, member of the team "Warehouse" (will be restricted to its errors).
- ``outsider``: active, may act on errors, member of the team "Finance" only (will be restricted to Finance,
  so none of the Warehouse errors will be theirs to see).

Each persona's username is its name. ``personas`` gives them all by name; ``login_as`` gives a logged-in
``django.test.Client`` for a persona's name or any user (``"anonymous"`` gives a client nobody logged in to).
Test modules that define a fixture of the same name (``triager``, ``viewer``) keep their own.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.dashboard.factories import TeamFactory, UserFactory

ACT_ON_ERRORS = ("dashboard", "act_on_errors")
PERSONA_NAMES = ("admin", "lead", "triager", "viewer", "restricted", "outsider")
ANONYMOUS = "anonymous"
WAREHOUSE = "Warehouse"
FINANCE = "Finance"


def act_on_errors() -> Permission:
    app_label, codename = ACT_ON_ERRORS
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def user_who_can_act(username: str):
    user = UserFactory(username=username)
    user.user_permissions.add(act_on_errors())
    return user


@pytest.fixture
def admin(db):
    """A superuser and staff member: every permission, and the Django admin."""
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def lead(db):
    """May act on errors; the roles change gives it the lead role."""
    return user_who_can_act("lead")


@pytest.fixture
def triager(db):
    """May act on errors: resolve, retry, assign, tag, comment, edit retry data, cancel batches."""
    return user_who_can_act("triager")


@pytest.fixture
def viewer(db):
    """Logged in with no permission: reads every page, acts on nothing."""
    return UserFactory(username="viewer")


@pytest.fixture
def warehouse(db):
    """The team whose errors the ``restricted`` persona works on."""
    return TeamFactory(name=WAREHOUSE)


@pytest.fixture
def finance(db):
    """The other team: the ``outsider`` persona's only one."""
    return TeamFactory(name=FINANCE)


@pytest.fixture
def restricted(warehouse):
    """May act on errors, member of Warehouse; will be restricted to Warehouse's errors."""
    user = user_who_can_act("restricted")
    warehouse.members.add(user)
    return user


@pytest.fixture
def outsider(finance):
    """Active, may act on errors, member of Finance only; will see none of Warehouse's errors."""
    user = user_who_can_act("outsider")
    assert user.is_active
    finance.members.add(user)
    return user


@pytest.fixture
def personas(admin, lead, triager, viewer, restricted, outsider) -> dict:
    """Every persona by name (which is also its username)."""
    return {
        "admin": admin,
        "lead": lead,
        "triager": triager,
        "viewer": viewer,
        "restricted": restricted,
        "outsider": outsider,
    }


@pytest.fixture
def login_as(request, db) -> Callable[..., Client]:
    """``login_as("viewer")`` or ``login_as(user)``: a fresh client logged in (force_login) as them.

    A persona's name builds only that persona (through its fixture); ``"anonymous"`` gives a client with
    nobody logged in.
    """

    def client_for(persona_or_user) -> Client:
        client = Client()
        if persona_or_user == ANONYMOUS:
            return client
        if isinstance(persona_or_user, str):
            if persona_or_user not in PERSONA_NAMES:
                raise ValueError(f"no persona {persona_or_user!r}; personas are {', '.join(PERSONA_NAMES)}")
            persona_or_user = request.getfixturevalue(persona_or_user)
        client.force_login(persona_or_user)
        return client

    return client_for
