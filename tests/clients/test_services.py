import pytest
from django.core.exceptions import ValidationError

from clients.models import Client, ClientEvent
from clients.services import create_client, delete_client, update_client
from tests.factories.clients import ClientFactory

pytestmark = pytest.mark.django_db

DATA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "country": "GB"}


def test_create_client_records_the_action_and_reason(staff_admin):
    customer = create_client(data=DATA, actor=staff_admin, reason="phone sign-up")
    event = ClientEvent.objects.get(pgh_obj_id=customer.pk)
    assert event.pgh_context.metadata["action"] == "clients.create_client"
    assert event.pgh_context.metadata["reason"] == "phone sign-up"
    assert event.pgh_context.metadata["username"] == staff_admin.username


def test_create_client_rejects_an_email_used_in_another_case(staff_admin):
    ClientFactory(email="Ada@Example.com")
    with pytest.raises(ValidationError) as exc:
        create_client(data=DATA, actor=staff_admin)
    assert exc.value.error_dict["email"][0].code == "duplicate_email"
    assert Client.objects.count() == 1


def test_create_client_rejects_an_invalid_phone(staff_admin):
    with pytest.raises(ValidationError) as exc:
        create_client(data={**DATA, "phone": "12"}, actor=staff_admin)
    assert "phone" in exc.value.error_dict


def test_create_client_rejects_unknown_fields(staff_admin):
    with pytest.raises(ValidationError) as exc:
        create_client(data={**DATA, "is_vip": True}, actor=staff_admin)
    assert exc.value.code == "unknown_field"


def test_status_change_needs_a_reason(staff_admin):
    customer = ClientFactory()
    with pytest.raises(ValidationError) as exc:
        update_client(client=customer, data={"status": "closed"}, actor=staff_admin)
    assert exc.value.code == "reason_required"
    customer.refresh_from_db()
    assert customer.status == "active"


def test_status_change_follows_the_transition_map(staff_admin):
    customer = ClientFactory(closed=True)
    with pytest.raises(ValidationError) as exc:
        update_client(client=customer, data={"status": "inactive"}, actor=staff_admin, reason="x")
    assert exc.value.code == "invalid_transition"
    update_client(client=customer, data={"status": "active"}, actor=staff_admin, reason="reopen")
    customer.refresh_from_db()
    assert customer.status == "active"


def test_update_without_changes_writes_nothing(staff_admin):
    customer = ClientFactory()
    update_client(client=customer, data={"city": customer.city}, actor=staff_admin)
    assert ClientEvent.objects.filter(pgh_label="update").count() == 0


def test_delete_client_needs_a_reason_and_keeps_the_history(staff_admin):
    customer = ClientFactory()
    with pytest.raises(ValidationError):
        delete_client(client=customer, actor=staff_admin, reason=" ")
    delete_client(client=customer, actor=staff_admin, reason="created twice")
    assert not Client.objects.exists()
    assert ClientEvent.objects.filter(pgh_obj_id=customer.pk, pgh_label="delete").exists()


def test_database_refuses_an_invalid_status_even_from_bulk_updates():
    from django.db import IntegrityError

    customer = ClientFactory()
    with pytest.raises(IntegrityError):
        Client.objects.filter(pk=customer.pk).update(status="deleted")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("love", True),
        ("ADA LOVE", True),
        ("analytical", True),
        ("ada@exa", True),
        ("babbage", False),
        ("'; DROP TABLE x; --", False),
        ("&|!:*()", False),
    ],
)
def test_search_matches_word_prefixes(query, found):
    ClientFactory(
        first_name="Ada",
        last_name="Lovelace",
        company_name="Analytical Engines",
        email="ada@example.com",
    )
    ClientFactory(first_name="Charles", last_name="Dickens", email="cd@example.org")
    assert Client.objects.search(query).filter(last_name="Lovelace").exists() is found


def test_search_by_client_number():
    customer = ClientFactory()
    assert list(Client.objects.search(str(customer.pk))) == [customer]


def test_search_finds_substrings_through_the_trigram_index_where_pg_trgm_exists():
    from django.db import connection

    from core.db import has_extension

    if not has_extension("pg_trgm"):
        pytest.skip("this server has no pg_trgm (the embedded one ships without contrib)")
    linus = ClientFactory(email="linus@kernel.example", phone="+442079460001")
    ClientFactory(email="other@example.org")
    assert list(Client.objects.search("kernel")) == [linus]
    assert list(Client.objects.search("7946")) == [linus]
    with connection.cursor() as cur:
        # A two-row table is cheaper to scan; make the planner show what it does at scale.
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("SET LOCAL enable_indexscan = off")
        sql, params = Client.objects.search("kernel").order_by().query.sql_with_params()
        cur.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "clients_search_trgm_idx" in plan


@pytest.mark.django_db(transaction=True)
def test_a_set_password_link_submitted_twice_at_once_sets_the_password_once(monkeypatch):
    import time

    from clients import services as client_services
    from tests.billing.test_concurrency_and_guards import _run_in_parallel

    customer = ClientFactory()
    token = client_services.make_set_password_token(customer)
    checked = client_services.validate_password

    def slow_check(password, user=None):
        time.sleep(0.3)  # both submissions are inside the service at the same time
        return checked(password, user=user)

    monkeypatch.setattr(client_services, "validate_password", slow_check)
    outcomes = _run_in_parallel(
        lambda pw: client_services.set_password_from_link(token=token, password=pw),
        [("Correct-Horse-1",), ("Battery-Staple-2",)],
    )
    used = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(outcomes) == 2 and len(used) == 1 and used[0].code == "link_used"


def test_the_database_refuses_a_second_client_with_the_same_email_in_other_case():
    from django.db import IntegrityError, connection, transaction

    ClientFactory(email="ada@example.com")
    other = ClientFactory(email="grace@example.com")
    # Past every form and service: the unique index on lower(email) holds on its own.
    with (
        pytest.raises(IntegrityError, match="clients_client_email_ci_unique"),
        transaction.atomic(),
        connection.cursor() as cur,
    ):
        cur.execute("UPDATE clients_client SET email = 'ADA@Example.com' WHERE id = %s", [other.pk])
