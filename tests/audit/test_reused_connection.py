"""With persistent connections (``CONN_MAX_AGE``) one database session serves many requests:
nothing a request's audit context set may still be there for the next one."""

import pytest
from django.db import connection, transaction

import audit.context
from kb.models import Category, CategoryEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _settings_now() -> tuple[str | None, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('pghistory.context_id', true),"
            " current_setting('pghistory.context_metadata', true)"
        )
        return cursor.fetchone()


def test_the_next_request_on_the_same_connection_inherits_no_context():
    backend_pid = connection.cursor().connection.info.backend_pid
    with audit.context.root(user=7, username="first", channel="web"):
        with transaction.atomic():  # a request's service call
            Category.objects.create(name="A", slug="a")
        Category.objects.create(name="B", slug="b")  # an autocommit write
    # The context is set per transaction (set_config(..., true)): gone with its commit.
    assert _settings_now() in ((None, None), ("", ""))
    # The next "request" writes on the same session without a context of its own.
    Category.objects.filter(slug="a").update(name="A2")
    assert connection.cursor().connection.info.backend_pid == backend_pid
    update = CategoryEvent.objects.get(pgh_label="update")
    assert update.pgh_context_id is None


def test_a_failed_transaction_leaves_no_context_behind():
    with (
        audit.context.root(user=7, username="first", channel="web"),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Category.objects.create(name="A", slug="a")
        raise RuntimeError
    assert _settings_now() in ((None, None), ("", ""))
    Category.objects.create(name="B", slug="b")
    assert CategoryEvent.objects.get().pgh_context_id is None
