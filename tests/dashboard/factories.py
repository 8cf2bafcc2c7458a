"""factory_boy factories for the dashboard's models."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from dashboard import models
from dashboard.lib.fingerprint import fingerprint


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = "!"  # unusable: tests log in with force_login; set one with set_password() when needed


def person(username: str, role: str, *, restricted: bool = False, **fields):
    """A user with an Error Desk role (and, optionally, restricted to their teams)."""
    user = UserFactory(username=username, **fields)
    models.Profile.objects.update_or_create(
        user_id=user.pk, defaults={"role": role, "restricted": restricted}
    )
    return user


class CeligoAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CeligoAccount
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Account {n}")
    region = models.Region.NA
    status = models.AccountStatus.OK

    @factory.post_generation
    def token(obj, create, extracted, **kwargs):
        obj.token = extracted or "sim-demo-token"
        if create:
            obj.save(update_fields=["token_encrypted", "token_last4"])


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Integration

    account = factory.SubFactory(CeligoAccountFactory)
    celigo_id = factory.Sequence(lambda n: f"int{n:021d}")
    name = factory.Sequence(lambda n: f"Integration {n}")


class FlowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Flow

    integration = factory.SubFactory(IntegrationFactory)
    account = factory.LazyAttribute(
        lambda o: o.integration.account if o.integration else CeligoAccountFactory()
    )
    celigo_id = factory.Sequence(lambda n: f"flow{n:020d}")
    name = factory.Sequence(lambda n: f"Flow {n}")


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Step

    flow = factory.SubFactory(FlowFactory)
    account = factory.LazyAttribute(lambda o: o.flow.account)
    celigo_id = factory.Sequence(lambda n: f"step{n:020d}")
    kind = models.StepKind.IMPORT
    name = factory.Sequence(lambda n: f"Step {n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class ErrorRecordFactory(factory.django.DjangoModelFactory):
    """An open error on a step; its flow, integration and account follow the step."""

    class Meta:
        model = models.ErrorRecord
        skip_postgeneration_save = True

    step = factory.SubFactory(StepFactory)
    flow = factory.LazyAttribute(lambda o: o.step.flow)
    integration = factory.LazyAttribute(lambda o: o.step.flow.integration)
    account = factory.LazyAttribute(lambda o: o.step.account)
    celigo_flow_id = factory.LazyAttribute(lambda o: o.flow.celigo_id)
    celigo_step_id = factory.LazyAttribute(lambda o: o.step.celigo_id)
    error_id = factory.Sequence(lambda n: f"err{n:021d}")
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    source = "application"
    code = "422"
    message = factory.Sequence(lambda n: f"Order {n} failed: customer 'ACME' not found")
    classification = "missing"
    trace_key = factory.Sequence(lambda n: f"SO-{n}")
    retry_data_key = factory.Sequence(lambda n: f"rdk{n}")
    purge_at = factory.LazyAttribute(lambda o: o.occurred_at + timedelta(days=30) if o.occurred_at else None)
    status = models.CeligoState.OPEN
    fingerprint = factory.LazyAttribute(lambda o: fingerprint(o.message)[0])

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.tags.set(extracted)

    @factory.post_generation
    def normalised(obj, create, extracted, **kwargs):
        """Store the fingerprint's normalised text, as the sync does, so the grouped view can show it."""
        if create and obj.fingerprint:
            models.ErrorFingerprint.objects.get_or_create(
                fingerprint=obj.fingerprint, defaults={"normalised_message": fingerprint(obj.message)[1]}
            )


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Activity

    error = factory.SubFactory(ErrorRecordFactory)
    kind = models.ActivityKind.COMMENT
    data = factory.LazyFunction(lambda: {"text": "Looked at it"})


class FlowJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.FlowJob

    flow = factory.SubFactory(FlowFactory)
    account = factory.LazyAttribute(lambda o: o.flow.account)
    celigo_id = factory.Sequence(lambda n: f"job{n:021d}")
    flow_celigo_id = factory.LazyAttribute(lambda o: o.flow.celigo_id)
    type = "flow"
    status = "completed"
    created_at = factory.LazyFunction(timezone.now)
    started_at = factory.LazyFunction(timezone.now)
    ended_at = factory.LazyFunction(timezone.now)
    num_success = 10
    num_error = 2


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SyncRun

    account = factory.SubFactory(CeligoAccountFactory)
    outcome = models.SyncOutcome.SUCCEEDED
    finished_at = factory.LazyFunction(timezone.now)
    api_calls = 12


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SavedView

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"View {n}")
    query_string = "status=open"


class ActionBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ActionBatch

    kind = models.ActionKind.RESOLVE
    actor = factory.SubFactory(UserFactory)
