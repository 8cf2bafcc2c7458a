"""Numbers read from a request: the page a list was asked for, and ids, each within bounds.

Any number a person can type reaches SQL only inside these bounds, so ``page=10^25`` or a 30-digit id is a
page or id like any other that does not exist, never an integer overflow in the database.
"""

from __future__ import annotations

from django.http import HttpRequest

from dashboard.access import MAX_PK

# Past this page, lists answer their last page: OFFSET 500,000 rows is as deep as a person pages.
MAX_PAGE = 10_000


def page_number(request: HttpRequest) -> int:
    """The ``page`` parameter: 1 to :data:`MAX_PAGE`; 1 for anything not a number."""
    value = request.GET.get("page", "1").strip()
    if not value.isdecimal() or len(value) > 9:
        return MAX_PAGE if value.isdecimal() else 1
    return min(MAX_PAGE, max(1, int(value)))


def optional_id(value: str | None) -> int | None:
    """A primary key typed into a URL: an int between 1 and the largest id, else None."""
    value = (value or "").strip()
    if not value.isdecimal() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= MAX_PK else None
