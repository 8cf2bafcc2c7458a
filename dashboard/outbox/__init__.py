"""The outbox: a person's action over a set of errors, recorded as an ``ActionBatch`` and applied in the
background, at Celigo's pace, audited, resumable and never sent to Celigo twice.

* ``request``: validate what was asked, record the batch and its items, queue it; cancel.
* ``selection``: a stored error-list filter becomes the batch's items, through the access layer.
* ``runner``: the lease, crash recovery, progress and the final state of a batch.
* ``celigo``: resolve and retry, per flow step in chunks of at most 1000 ids (docs/celigo-api.md §2.6, §2.8).
* ``local``: assign, set team, tag, untag and comment, through the ``do_*`` actions.
* ``mirror``: the optional copy of assignment and tags to Celigo; a failure never undoes the local change.

Submodules are imported by name; this package imports none of them (``dashboard.actions`` requests go
through ``request`` while ``local`` calls ``dashboard.actions``).
"""
