"""The slower refresh: names and structure of integrations, flows and steps, Celigo users and tags."""

from __future__ import annotations

from dashboard.lib.text import clean_json, clean_text
from dashboard.models import CeligoUser, ErrorRecord, Flow, Integration, Step, StepKind, Tag
from dashboard.sync.context import SyncContext


def refresh_metadata(
    context: SyncContext, integrations: dict[str, Integration], flows: dict[str, Flow]
) -> None:
    """Mirror the account's structure; ``integrations`` and ``flows`` (by Celigo id) are updated in place."""
    refresh_integrations(context, integrations)
    refresh_flows(context, integrations, flows)
    client, account = context.client, context.account
    for user in client.iter_users():
        context.keep_lease()  # thousands of rows written between two Celigo calls
        if user.user_id:
            CeligoUser.objects.update_or_create(
                account=account,
                user_id=user.user_id,
                defaults={"email": clean_text(user.email, 254), "name": clean_text(user.name, 200)},
            )
    for tag in client.iter_tags():
        context.keep_lease()
        if tag.name:
            Tag.objects.update_or_create(name=clean_text(tag.name, 60), defaults={"celigo_tag_id": tag.id})
    context.run.metadata_refreshed = True
    context.set_account(last_metadata_sync_at=context.started)


def refresh_integrations(context: SyncContext, known: dict[str, Integration]) -> None:
    account = context.account
    found = {i.id: i for i in context.client.iter_integrations() if i.id}
    for celigo_id, item in found.items():
        context.keep_lease()
        obj, _ = Integration.objects.update_or_create(
            account=account,
            celigo_id=celigo_id,
            defaults={
                "name": clean_text(item.name, 500),
                "sandbox": bool(item.sandbox),
                "deleted_in_celigo": False,
                "raw": clean_json(item.raw),
            },
        )
        known[celigo_id] = obj
    Integration.objects.filter(account=account).exclude(celigo_id__in=list(found)).update(
        deleted_in_celigo=True
    )
    for obj in known.values():
        obj.deleted_in_celigo = obj.celigo_id not in found


def step_names(context: SyncContext) -> dict[str, tuple[str, str, str]]:
    """Kind, name and adaptor type of every export and import, by id."""
    client = context.client
    names: dict[str, tuple[str, str, str]] = {}
    for export in client.iter_exports(include=("name", "adaptorType")):
        names[export.id] = (
            StepKind.EXPORT,
            clean_text(export.name, 500),
            clean_text(export.adaptor_type, 100),
        )
    for imp in client.iter_imports(include=("name", "adaptorType")):
        names[imp.id] = (StepKind.IMPORT, clean_text(imp.name, 500), clean_text(imp.adaptor_type, 100))
    return names


def refresh_flows(context: SyncContext, integrations: dict[str, Integration], known: dict[str, Flow]) -> None:
    account = context.account
    names = step_names(context)
    found = {f.id: f for f in context.client.iter_flows() if f.id}
    for celigo_id, item in found.items():
        context.keep_lease()  # a flow's rows take a few queries each; an account may have thousands
        integration = integrations.get(item.integration_id or "")
        flow, _ = Flow.objects.update_or_create(
            account=account,
            celigo_id=celigo_id,
            defaults={
                "name": clean_text(item.name, 500),
                "integration": integration,
                "disabled": bool(item.disabled),
                "deleted_in_celigo": False,
                "raw": clean_json(item.raw),
            },
        )
        known[celigo_id] = flow
        step_ids = item.step_ids
        for position, step_id in enumerate(step_ids):
            kind, name, adaptor = names.get(step_id, ("", "", ""))
            Step.objects.update_or_create(
                flow=flow,
                celigo_id=step_id,
                defaults={
                    "account": account,
                    "kind": kind,
                    "name": name,
                    "adaptor_type": adaptor,
                    "position": position,
                    "in_flow": True,
                },
            )
        Step.objects.filter(flow=flow).exclude(celigo_id__in=step_ids).update(in_flow=False)
        # Rows stored before the flow's metadata arrived get their links now.
        ErrorRecord.objects.filter(account=account, celigo_flow_id=celigo_id, flow__isnull=True).update(
            flow=flow, integration=integration
        )
    Flow.objects.filter(account=account).exclude(celigo_id__in=list(found)).update(deleted_in_celigo=True)
