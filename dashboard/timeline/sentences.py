"""The sentence for each kind of timeline entry, from its data (the one place text is made).

Data each kind carries:

========================  =====================================================================
resolved_in_celigo        ``resolved_by`` (Celigo user id, ``auto`` or ``errordesk:<user>``), ``resolved_at``
reopened_in_celigo        —
purged                    —
assigned                  ``from``, ``to`` (usernames or None), ``to_id``
team_set                  ``from``, ``to`` (team names or None), ``to_id``
tagged / untagged         ``tags`` (names)
comment                   ``text``
resolve_requested         ``batch``
retry_requested           ``batch``, ``job_id`` when Celigo gave one
retry_succeeded           —
retry_failed              ``new_error`` (on the retried error) or ``retry_of`` (on the new one)
retry_data_edited         ``before``, ``after``, ``diff``, ``retried``, ``outcome`` (pending, saved, refused,
                          unknown; absent: saved) and ``reason`` when Celigo refused or did not answer
regression                ``regression_of``, ``assigned_to``
action_failed             ``batch``, ``action`` (its label), ``reason``
========================  =====================================================================

Any entry may carry ``by`` (``{kind, name, id}``) when the sync or a rule acted rather than a person.
Entries recorded before the timeline kept data carry their sentence in ``Activity.message``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboard.models import Activity, ActivityKind


def _assigned(data: dict[str, Any]) -> str:
    return f"Assigned to {data['to']}" if data.get("to") else "Unassigned"


def _team_set(data: dict[str, Any]) -> str:
    return f"Team set to {data['to']}" if data.get("to") else "Team cleared"


def _retry_failed(data: dict[str, Any]) -> str:
    if "new_error" in data:
        return "The retry failed again; Celigo filed a new error"
    return "This error is the failed retry of an earlier one"


def _retry_data_edited(data: dict[str, Any]) -> str:
    outcome = data.get("outcome", "saved")
    check = "reload the data to see whether it was saved"
    if outcome == "pending":
        return f"Retry data edit sent to Celigo; no answer was recorded: {check}"
    if outcome == "unknown":
        return f"Retry data edit sent to Celigo, but its answer was lost: {check}"
    if outcome == "refused":
        return f"Celigo refused a retry data edit: {data.get('reason', '')}"
    return "Retry data edited" + (" and retried" if data.get("retried") else "")


SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    ActivityKind.RESOLVED_IN_CELIGO: lambda d: f"Resolved in Celigo by {d.get('resolved_by') or 'someone'}",
    ActivityKind.REOPENED_IN_CELIGO: lambda d: "Listed as open in Celigo again",
    ActivityKind.PURGED: lambda d: "No longer in Celigo's open or resolved list",
    ActivityKind.ASSIGNED: _assigned,
    ActivityKind.TEAM_SET: _team_set,
    ActivityKind.TAGGED: lambda d: f"Tagged {', '.join(d.get('tags', []))}",
    ActivityKind.UNTAGGED: lambda d: f"Untagged {', '.join(d.get('tags', []))}",
    ActivityKind.COMMENT: lambda d: str(d.get("text", "")),
    ActivityKind.RESOLVE_REQUESTED: lambda d: "Resolved in Celigo from Error Desk",
    ActivityKind.RETRY_REQUESTED: lambda d: "Retry sent to Celigo",
    ActivityKind.RETRY_SUCCEEDED: lambda d: "The retry succeeded: Celigo resolved the error automatically",
    ActivityKind.RETRY_FAILED: _retry_failed,
    ActivityKind.RETRY_DATA_EDITED: _retry_data_edited,
    ActivityKind.REGRESSION: lambda d: "Regression: this repeats an error that was resolved",
    ActivityKind.ACTION_FAILED: lambda d: f"{d.get('action', 'Action')} failed: {d.get('reason', '')}",
}


def describe(activity: Activity) -> str:
    """What happened, in one sentence (a comment: its text)."""
    if activity.message:
        return activity.message
    sentence = SENTENCES.get(activity.kind)
    return sentence(activity.data or {}) if sentence else activity.get_kind_display()
