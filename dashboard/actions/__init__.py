"""Side effects on errors, one ``do_*`` function each, called alike by views, the outbox, routing, commands
and tests (the way Zulip's ``do_<verb>_<noun>`` functions take an ``acting_user``).

Each takes the acting person — or a :class:`dashboard.timeline.SystemActor` for the sync or a rule — and
records what it did on each error's timeline as a kind plus data.

* ``assignment``: ``do_assign``, ``do_set_team``
* ``tags``: ``do_tag``, ``do_untag``
* ``comments``: ``do_comment``
* ``retry_data``: ``do_edit_retry_data``
* ``requests``: ``do_resolve_errors``, ``do_retry_errors`` — Celigo-bound, so they go through the outbox
* ``teams``: ``do_create_team``, ``do_update_team``, ``do_add_member``, ``do_set_member_role``,
  ``do_remove_member``, ``do_set_owned_scopes`` — recorded as ``AuditEvent`` rows (``dashboard.audit``)
* ``people``: ``do_add_person``, ``do_set_role``, ``do_set_restricted``, ``do_deactivate_person``,
  ``do_reactivate_person``, ``do_issue_password_link`` — recorded as ``AuditEvent`` rows too

The submodules are imported by name (``from dashboard.actions.tags import do_tag``): the outbox applies the
local actions and the requests hand work to the outbox, so this package re-exports nothing to keep the two
free of an import cycle.
"""
