"""Named personas for the view tests: who is asking, as PRODUCT roles and teams define them.

- ``admin``: a superuser and staff member; may do everything, Django admin included.
- ``lead``: role lead: acts on errors, manages teams and shared views, sees everyone's batches.
- ``triager``: role triager: acts on errors.
- ``viewer``: role viewer: reads, never acts.
- ``restricted``: a triager restricted to their team "Warehouse": sees and acts on Warehouse's errors only.
- ``outsider``: a triager restricted to the team "Finance": none of Warehouse's errors are theirs to see.

Each persona's username is its name. ``personas`` gives them all by name; ``login_as`` gives a logged-in
``django.test.Client`` for a persona's name or any user (``"anonymous"`` gives a client nobody logged in to).
Test modules that define a fixture of the same name (``triager``, ``viewer``) log that persona in.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from dashboard.models import Role, TeamMembership
from tests.dashboard.factories import TeamFactory, UserFactory, person

PERSONA_NAMES = ("admin", "lead", "triager", "viewer", "restricted", "outsider")
ANONYMOUS = "anonymous"
WAREHOUSE = "Warehouse"
FINANCE = "Finance"


@pytest.fixture
def admin(db):
    """A superuser and staff member: every permission, and the Django admin."""
    return UserFactory(username="admin", is_superuser=True, is_staff=True)


@pytest.fixture
def lead(db):
    """Acts on errors, manages teams and shared views, sees everyone's batches."""
    return person("lead", Role.LEAD)


@pytest.fixture
def triager(db):
    """Acts on errors: resolve, retry, assign, tag, comment, edit retry data, cancel their batches."""
    return person("triager", Role.TRIAGER)


@pytest.fixture
def viewer(db):
    """Reads every page, acts on nothing."""
    return person("viewer", Role.VIEWER)


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
    """A triager restricted to Warehouse's errors."""
    user = person("restricted", Role.TRIAGER, restricted=True)
    TeamMembership.objects.create(team=warehouse, user=user)
    return user


@pytest.fixture
def outsider(finance):
    """A triager restricted to Finance: sees none of Warehouse's errors."""
    user = person("outsider", Role.TRIAGER, restricted=True)
    TeamMembership.objects.create(team=finance, user=user)
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
