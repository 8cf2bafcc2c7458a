"""Error Desk's domain, one module per concept, re-exported here so ``dashboard.models.X`` is the one name.

Celigo says whether an error exists (its open/resolved state, retry data, HTTP logs); everything else on
an ``ErrorRecord`` (assignee, team, tags, retry outcome, regression) is Error Desk's own.
"""

from dashboard.models.accounts import AccountStatus, CeligoAccount, Region, TagVariant
from dashboard.models.activity import Activity, ActivityKind
from dashboard.models.api_tokens import ApiToken, TokenScope
from dashboard.models.audit import AuditEvent, AuditKind
from dashboard.models.errors import CeligoState, ErrorFingerprint, ErrorRecord, RetryOutcome, Tag
from dashboard.models.outbox import (
    CELIGO_ACTIONS,
    FINISHED_STATES,
    ActionBatch,
    ActionItem,
    ActionKind,
    BatchState,
    ItemOutcome,
)
from dashboard.models.people import ROLE_RANK, Profile, Role
from dashboard.models.routing_rules import AssignMode, RoutingRule, RuleHit, RuleMatch
from dashboard.models.saved_views import SavedView
from dashboard.models.structure import CeligoUser, Flow, FlowJob, Integration, Step, StepKind
from dashboard.models.sync_runs import SyncKind, SyncOutcome, SyncRun
from dashboard.models.system import WorkerHeartbeat
from dashboard.models.teams import Team, TeamMembership, TeamRole

__all__ = [
    "CELIGO_ACTIONS",
    "FINISHED_STATES",
    "ROLE_RANK",
    "AccountStatus",
    "ActionBatch",
    "ActionItem",
    "ActionKind",
    "Activity",
    "ActivityKind",
    "ApiToken",
    "AssignMode",
    "AuditEvent",
    "AuditKind",
    "BatchState",
    "CeligoAccount",
    "CeligoState",
    "CeligoUser",
    "ErrorFingerprint",
    "ErrorRecord",
    "Flow",
    "FlowJob",
    "Integration",
    "ItemOutcome",
    "Profile",
    "Region",
    "RetryOutcome",
    "Role",
    "RoutingRule",
    "RuleHit",
    "RuleMatch",
    "SavedView",
    "Step",
    "StepKind",
    "SyncKind",
    "SyncOutcome",
    "SyncRun",
    "Tag",
    "TagVariant",
    "Team",
    "TeamMembership",
    "TeamRole",
    "TokenScope",
    "WorkerHeartbeat",
]
