"""Each error's timeline as data: an entry is a kind and a dict, and its sentence is rendered in one place.

The sync, the outbox and the ``do_*`` actions record entries with :func:`entry` and :func:`record`; the
detail page (and later e-mail, Slack and the API) say what happened with :func:`describe`.
"""

from dashboard.timeline.entries import SYNC, Actor, SystemActor, entry, record, record_same
from dashboard.timeline.sentences import describe

__all__ = ["SYNC", "Actor", "SystemActor", "describe", "entry", "record", "record_same"]
