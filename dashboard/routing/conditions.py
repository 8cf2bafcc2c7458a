"""What a routing rule can ask of an error, how a rule is checked before it is saved, and the SQL it becomes.

A rule becomes one ``Q`` over ``ErrorRecord``, so the same expression decides a page of new errors, the dry
run and the backlog: a dry run's count is what the rule then applies (docs/architecture.md "Routing rules").

Regular expressions run in the database, never in Python over a page: PostgreSQL's regex engine is not a
backtracking one, so a pattern such as ``(a+)+$`` costs linear time there, and a statement is bounded by the
database's timeout anyway. SQLite (the embedded default) runs them with Python's ``re``, which does backtrack,
so on every backend patterns are short, without back-references and without a quantified group that holds a
quantifier (the shape behind catastrophic backtracking); the pattern is compiled by the engine that will run
it before the rule is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import Q, Subquery

from dashboard.models import CeligoAccount, Integration, RuleMatch

REGEX_MAX_LENGTH = 300
VALUE_MAX_LENGTH = 500
MAX_CONDITIONS = 20

TEXT_OPS = {"is": "is", "contains": "contains", "glob": "matches the glob", "regex": "matches the regex"}
IS_ONLY = {"is": "is"}
PRESENCE_OPS = {"present": "is present", "absent": "is absent"}


@dataclass(frozen=True)
class Field:
    label: str
    ops: dict[str, str]
    column: str


FIELDS: dict[str, Field] = {
    "account": Field("Account", IS_ONLY, "account_id"),
    "integration": Field("Integration id", IS_ONLY, "integration_id"),
    "flow": Field("Flow id", IS_ONLY, "celigo_flow_id"),
    "step": Field("Step id", IS_ONLY, "celigo_step_id"),
    "source": Field("Source", TEXT_OPS, "source"),
    "classification": Field("Classification", TEXT_OPS, "classification"),
    "code": Field("Code", TEXT_OPS, "code"),
    "message": Field("Message", TEXT_OPS, "message"),
    "trace_key": Field("Trace key", TEXT_OPS, "trace_key"),
    "retry_data": Field("Retry data", PRESENCE_OPS, "retry_data_key"),
}

# A group holding an unescaped + or * that is itself quantified: (a+)+, (\w*x)*, (a|b+){2,}.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?<!\\)[+*](?:[^()\\]|\\.)*\)[+*{]")
BACK_REFERENCE = re.compile(r"\\[1-9]|\(\?P=")


class RuleInvalid(ValueError):
    """A rule that cannot be saved; ``errors`` maps a field name to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in errors.items()))
        self.errors = errors


def clean_conditions(conditions: Any) -> list[dict[str, Any]]:
    """The conditions in their stored form; raises RuleInvalid naming ``conditions`` and which one."""
    if not isinstance(conditions, list) or not conditions:
        raise RuleInvalid({"conditions": "Add at least one condition."})
    if len(conditions) > MAX_CONDITIONS:
        raise RuleInvalid({"conditions": f"A rule has at most {MAX_CONDITIONS} conditions."})
    return [clean_condition(number, item) for number, item in enumerate(conditions, start=1)]


def clean_condition(number: int, item: Any) -> dict[str, Any]:
    def invalid(text: str) -> RuleInvalid:
        return RuleInvalid({"conditions": f"Condition {number}: {text}"})

    if not isinstance(item, dict):
        raise invalid("give a field, an operator and a value.")
    name, op, value = item.get("field"), item.get("op"), item.get("value")
    field = FIELDS.get(name) if isinstance(name, str) else None
    if field is None:
        raise invalid(f"the field must be one of {', '.join(FIELDS)}.")
    if op not in field.ops:
        raise invalid(f"{field.label} takes the operator {' or '.join(field.ops)}.")
    if field.ops is PRESENCE_OPS:
        return {"field": name, "op": op, "value": ""}
    if name == "account":
        return {"field": name, "op": op, "value": clean_account(value, invalid)}
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"give the value {field.label.lower()} {field.ops[op]}.")
    if "\x00" in value or len(value) > VALUE_MAX_LENGTH:
        raise invalid(f"the value must be at most {VALUE_MAX_LENGTH} characters, without NUL.")
    if op == "regex":
        problem = regex_problem(value)
        if problem:
            raise invalid(f"the regular expression {problem}.")
    return {"field": name, "op": op, "value": value}


def clean_account(value: Any, invalid: Any) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk < 2**63 or not CeligoAccount.objects.filter(pk=pk).exists():
        raise invalid("choose an account that exists.")
    return pk


def regex_problem(pattern: str) -> str:
    """Why ``pattern`` may not be saved, or "" when it may."""
    if len(pattern) > REGEX_MAX_LENGTH:
        return f"is longer than {REGEX_MAX_LENGTH} characters"
    if BACK_REFERENCE.search(pattern):
        return "uses a back-reference, which can take exponential time"
    if NESTED_QUANTIFIER.search(pattern):
        return "repeats a group that itself repeats (like (a+)+), which can take exponential time"
    try:
        re.compile(pattern)
    except re.error as error:
        return f"is not valid: {error}"
    if connection.vendor == "postgresql" and re.search(r"(?<!\\)(?:\\\\)*\\b", pattern):
        return "uses \\b, a backspace in PostgreSQL's dialect: write \\y for a word boundary"
    if connection.vendor == "postgresql":
        # PostgreSQL's dialect differs from Python's (no (?P<name>…), for one): ask the engine that runs it.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT '' ~ %s", [pattern])
        except DatabaseError as error:
            return f"is not valid in the database: {str(error).splitlines()[0]}"
    return ""


def glob_pattern(glob: str) -> str:
    """A glob (``*`` any text, ``?`` one character) as a regex over the whole value, in the syntax Python's
    ``re`` and PostgreSQL's engine share: ``(?s)`` lets ``.`` cross lines in both, ``\\A…\\Z`` anchor both."""
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in glob)
    return "(?s)\\A" + "".join(parts) + "\\Z"


def condition_q(condition: dict[str, Any]) -> Q:
    name, op, value = condition["field"], condition["op"], condition["value"]
    column = FIELDS[name].column
    if name == "integration":
        return Q(integration_id__in=Subquery(Integration.objects.filter(celigo_id=value).values("pk")))
    if op == "present":
        return ~Q(**{column: ""})
    if op == "absent":
        return Q(**{column: ""})
    lookup = {"is": "exact", "contains": "icontains", "glob": "iregex", "regex": "regex"}[op]
    return Q(**{f"{column}__{lookup}": glob_pattern(value) if op == "glob" else value})


def rule_q(match: str, conditions: list[dict[str, Any]]) -> Q:
    """The errors a rule matches, as one expression (AND for ``all``, OR for ``any``)."""
    parts = [condition_q(condition) for condition in conditions]
    if not parts:
        return Q(pk__in=[])
    return Q(*parts, _connector=Q.OR if match == RuleMatch.ANY else Q.AND)


def describe_condition(condition: dict[str, Any]) -> str:
    field = FIELDS.get(condition.get("field", ""))
    if field is None:
        return str(condition)
    op = field.ops.get(condition.get("op", ""), condition.get("op", ""))
    value = "" if field.ops is PRESENCE_OPS else f" {condition.get('value')!r}"
    return f"{field.label} {op}{value}"
