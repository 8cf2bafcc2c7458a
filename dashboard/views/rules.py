"""Routing rules: the ordered list and the editor with its live dry run; leads and admins only.

Rules are changed through ``actions/rules.py``, which refuses an invalid rule naming the field; the dry run
(``queries/rules.py``) counts what the rule as typed would have matched, before anything is saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard.actions.rules import (
    RuleFields,
    do_apply_rule_to_backlog,
    do_create_rule,
    do_delete_rule,
    do_move_rule,
    do_update_rule,
)
from dashboard.models import AssignMode, RoutingRule, RuleMatch, Team
from dashboard.queries.rules import DEFAULT_DRY_RUN_DAYS, DRY_RUN_DAYS, dry_run
from dashboard.routing.conditions import (
    FIELDS,
    MAX_CONDITIONS,
    RuleInvalid,
    clean_conditions,
    describe_condition,
)
from dashboard.views.guards import manage_teams_required

CONDITION_ROWS = 6  # rows the editor shows; blank ones are ignored
RULES_SHOWN = 500


class RuleForm(forms.Form):
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True)
    match = forms.ChoiceField(choices=RuleMatch.choices, initial=RuleMatch.ALL)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="No team"
    )
    assign_mode = forms.ChoiceField(choices=AssignMode.choices, required=False)
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="Nobody",
    )
    tags = forms.CharField(max_length=700, required=False, help_text="Names, separated by commas.")
    apply_backlog = forms.BooleanField(required=False)


class DryRunForm(forms.Form):
    match = forms.ChoiceField(choices=RuleMatch.choices, required=False)
    days = forms.TypedChoiceField(
        choices=[(d, f"{d} days") for d in DRY_RUN_DAYS], coerce=int, initial=DEFAULT_DRY_RUN_DAYS
    )


def posted_conditions(data: QueryDict) -> list[dict[str, Any]]:
    """The editor's condition rows (parallel lists field / op / value); rows without a field are blank."""
    fields, ops, values = data.getlist("cond_field"), data.getlist("cond_op"), data.getlist("cond_value")
    rows = zip(fields[: MAX_CONDITIONS + 1], ops, values, strict=False)
    return [{"field": f, "op": o, "value": v} for f, o, v in rows if f]


def condition_rows(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blank = {"field": "", "op": "", "value": ""}
    return [*conditions, *[blank] * max(CONDITION_ROWS - len(conditions), 1)]


def editor_context(
    form: RuleForm, conditions: list[dict[str, Any]], rule: RoutingRule | None
) -> dict[str, Any]:
    ops = {op: label for field in FIELDS.values() for op, label in field.ops.items()}
    return {
        "form": form,
        "rule": rule,
        "rows": condition_rows(conditions),
        "fields": [(name, field.label) for name, field in FIELDS.items()],
        "ops": list(ops.items()),
        "days": DRY_RUN_DAYS,
        "default_days": DEFAULT_DRY_RUN_DAYS,
    }


@require_GET
@manage_teams_required
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = list(RoutingRule.objects.select_related("team", "assignee")[: RULES_SHOWN + 1])
    rows = [(rule, [describe_condition(c) for c in rule.conditions]) for rule in rules[:RULES_SHOWN]]
    return render(
        request, "rules/list.html", {"rows": rows, "more": len(rules) > RULES_SHOWN, "last": len(rows) - 1}
    )


@require_http_methods(["GET", "POST"])
@manage_teams_required
def rule_add(request: HttpRequest) -> HttpResponse:
    return rule_editor(request, None)


@require_http_methods(["GET", "POST"])
@manage_teams_required
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return rule_editor(request, get_object_or_404(RoutingRule, pk=pk))


def rule_editor(request: HttpRequest, rule: RoutingRule | None) -> HttpResponse:
    if request.method != "POST":
        initial = {} if rule is None else {**vars_of(rule), "tags": ", ".join(rule.tags)}
        form = RuleForm(initial=initial)
        return render(request, "rules/form.html", editor_context(form, rule.conditions if rule else [], rule))
    form = RuleForm(request.POST)
    conditions = posted_conditions(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        fields = RuleFields(
            name=data["name"],
            conditions=conditions,
            match=data["match"],
            enabled=data["enabled"],
            team=data["team"],
            assign_mode=data["assign_mode"] or "",
            assignee=data["assignee"],
            tags=[tag for tag in data["tags"].split(",") if tag.strip()],
        )
        try:
            if rule is None:
                saved = do_create_rule(request.user, fields)
            else:
                saved = do_update_rule(request.user, rule, fields)
        except RuleInvalid as invalid:
            for name, text in invalid.errors.items():
                form.add_error(
                    name if name in form.fields else None, f"{FIELD_NAMES.get(name, name)}: {text}"
                )
        else:
            messages.success(request, f"Rule “{saved.name}” saved.")
            if data["apply_backlog"]:
                batch = do_apply_rule_to_backlog(request.user, saved)
                return redirect("batch-detail", batch.pk)
            return redirect("rule-list")
    return render(request, "rules/form.html", editor_context(form, conditions, rule), status=400)


FIELD_NAMES = {"conditions": "Conditions", "assign_mode": "Assign", "assignee": "Person", "team": "Team"}


def vars_of(rule: RoutingRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "enabled": rule.enabled,
        "match": rule.match,
        "team": rule.team_id,
        "assign_mode": rule.assign_mode,
        "assignee": rule.assignee_id,
    }


@require_POST
@manage_teams_required
def rule_move(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    order = list(RoutingRule.objects.values_list("pk", flat=True))
    index = order.index(rule.pk)
    direction = request.POST.get("direction")
    target = {"up": index - 1, "down": index + 1, "first": 0, "last": len(order) - 1}.get(
        direction or "", index
    )
    do_move_rule(request.user, rule, target)
    return redirect("rule-list")


@require_POST
@manage_teams_required
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    do_delete_rule(request.user, rule)
    messages.success(request, f"Rule “{rule.name}” deleted.")
    return redirect("rule-list")


@require_POST
@manage_teams_required
def rule_dry_run(request: HttpRequest) -> HttpResponse:
    """The editor's live preview (htmx): what the conditions as typed match in the last N days."""
    form = DryRunForm(request.POST)
    context: dict[str, Any] = {}
    if not form.is_valid():
        context["problem"] = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return render(request, "rules/partials/dry_run.html", context)
    try:
        conditions = clean_conditions(posted_conditions(request.POST))
    except RuleInvalid as invalid:
        context["problem"] = invalid.errors["conditions"]
    else:
        days = form.cleaned_data["days"]
        match = form.cleaned_data["match"] or RuleMatch.ALL
        context["result"] = dry_run(request.user, match, conditions, days=days, now=timezone.now())
    return render(request, "rules/partials/dry_run.html", context)
