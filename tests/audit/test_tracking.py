import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from pghistory.models import Context

from audit.tracking import event_model_for, event_models
from clients.models import Client, ClientEvent
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db

BUSINESS_APPS = ("clients", "hosting", "billing", "orders", "support", "affiliates", "kb")


def business_models():
    for config in apps.get_app_configs():
        if config.label in BUSINESS_APPS:
            for model in config.get_models():
                if not getattr(model, "pgh_tracked_model", None):
                    yield model


# Counters, not manual entries: opting out is deliberate and reviewed here.
# Page views and votes must not write audit events.
OPTED_OUT = {"kb.ArticleStats", "kb.ArticleVote"}


def test_every_concrete_business_model_has_an_event_model():
    models = list(business_models())
    assert models, "no business model found: the test would prove nothing"
    untracked = {m._meta.label for m in models if event_model_for(m) is None}
    assert untracked == OPTED_OUT
    for label in OPTED_OUT:
        assert apps.get_model(label).audit_track is False


def test_staff_accounts_and_their_roles_are_tracked():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    for model in (user_model, user_model.groups.through, Group, Group.permissions.through):
        assert event_model_for(model) is not None, model


@pytest.fixture
def populated_event_models(make_staff):
    ClientFactory()
    make_staff("Billing")  # a staff user and a role membership
    populated = [m for m in event_models() if m.objects.exists()]
    assert len(populated) >= 3
    return populated


def test_every_event_table_has_enabled_append_only_triggers():
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND t.tgenabled <> 'D'
            """
        )
        triggers = cur.fetchall()
    for event_model in event_models():
        names = {name for table, name in triggers if table == event_model._meta.db_table}
        assert any(n.startswith("pgtrigger_append_only") for n in names), event_model
        assert any(n.startswith("pgtrigger_no_truncate") for n in names), event_model


@pytest.mark.parametrize("statement", ["UPDATE {t} SET pgh_label = 'x'", "DELETE FROM {t}"])
def test_event_tables_refuse_update_and_delete(statement, populated_event_models):
    for event_model in populated_event_models:
        table = event_model._meta.db_table
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(statement.format(t=table))
    assert ClientEvent.objects.count() == 1


def test_event_tables_refuse_truncate(populated_event_models):
    for event_model in event_models():
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(f"TRUNCATE {event_model._meta.db_table}")
    assert ClientEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_contexts_cannot_be_rewritten_deleted_or_truncated():
    # transaction=True: the entry is committed, as it is once its request has finished.
    import audit.context

    with audit.context.context(reason="original"):
        ClientFactory()
    entry = Context.objects.get()
    for sql in (
        "UPDATE pghistory_context SET metadata = '{}'::jsonb",
        "DELETE FROM pghistory_context",
        "TRUNCATE pghistory_context CASCADE",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    entry.refresh_from_db()
    assert entry.metadata["reason"] == "original"


def test_an_update_that_changes_nothing_writes_no_event():
    customer = ClientFactory()
    Client.objects.filter(pk=customer.pk).update(city=customer.city)
    assert ClientEvent.objects.filter(pgh_obj_id=customer.pk).count() == 1  # the insert


def test_rolled_back_work_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        ClientFactory()
        raise RuntimeError("abort")
    assert ClientEvent.objects.count() == 0


def test_password_hashes_are_stored_only_as_a_digest(make_staff):
    from audit.models import StaffUserEvent

    user = make_staff(None)
    user.set_password("another-long-password-1")
    user.save()
    stored = list(
        StaffUserEvent.objects.filter(pgh_obj_id=user.pk).values_list("password", flat=True)
    )
    assert stored
    assert all(p.startswith("sha256:") for p in stored if p), stored
    assert user.password not in stored
