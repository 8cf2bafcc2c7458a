"""A faithful simulator of the Celigo integrator.io REST API (docs/celigo-api.md §1-4).

Use it in-process::

    from celigo_api.simulator import SimulatorConfig, SimulatorServer, FaultSpec

    with SimulatorServer(SimulatorConfig(seed="demo"), port=0) as sim:
        requests.get(f"{sim.base_url}/v1/flows", headers={"Authorization": f"Bearer {sim.token}"})

or from the command line: ``python -m celigo_api.simulator --seed demo --port 8765`` (see ``__main__``).

Conventions: tokens ``sim-demo-token`` / ``sim-eu-token`` (demo) and ``sim-token-<seed>`` /
``sim-eu-token-<seed>`` (int seeds); NA at the server root, EU/AU/CA under ``/eu``, ``/au``, ``/ca``;
``/__sim__/`` for introspection and control (no token).

Choices the reference leaves open (INFERRED), each selectable or documented:

* step error lists are newest first and paged by an opaque keyset cursor (``after``); ``limit`` is ignored;
  an empty page is ``200 {"errors": []}`` (object-wrapped lists never answer 204);
* ``nextPageURL`` forms: ``v1`` = ``/v1/flows/F/S/errors?…``, ``relative`` = ``flows/F/S/errors?…``
  (relative to the ``/v1`` root), ``api`` = ``/api/flows/F/S/errors?…`` (the UI host form), ``absolute``;
  ``next_page_keeps_filters=False`` leaves the caller's filters out;
* Link-header lists use an opaque ``after`` cursor, ``limit`` ≤ 1000, 204 when empty;
* ``/v1/integrations/{iid}/errors`` lists only flows with open errors; ``none`` serves standalone flows;
  ``sandbox=true`` selects sandbox flows, otherwise production ones;
* retry → ``201`` with the retry job (type ``retry``, status ``queued``); a retried error that fails again
  is resolved ``auto`` and replaced by a new open error (new errorId and retryDataKey, same traceKey and
  ``_flowJobId``); retry data PUT → 200 with the stored object; purge → 204; cancel → 204, 422
  ``invalid_job_state`` when the job already finished;
* assign → 204, sets ``assignedTo`` (email; empty or null unassigns); tag → 204, replaces ``tags``
  (a list of tag ids); both body variants of §2.13 accepted; unknown tag ids → 400 ``invalid_ref``;
* tag objects are ``{_id, tag, createdAt, lastModified}``; errorIds are decimal strings; retryDataKeys are
  32 hex characters; the flow field ``autoResolveMatchingTraceKeys`` turns auto-resolve on;
* 502/503 faults answer HTML (as a gateway would), 500 the JSON envelope; 401 answers ``{"message"}``.
"""

from .accounts import SimAccount
from .config import FaultSpec, SimulatorConfig
from .server import SimulatorServer

__all__ = ["FaultSpec", "SimAccount", "SimulatorConfig", "SimulatorServer"]
