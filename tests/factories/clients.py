import factory

from clients.models import Client


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    country = "GB"

    class Params:
        inactive = factory.Trait(status=Client.Status.INACTIVE)
        closed = factory.Trait(status=Client.Status.CLOSED)


def client_form_data(**overrides):
    """A complete, valid POST for the client form (web or admin); override what a test needs."""
    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company_name": "Analytical",
        "email": "ada@example.com",
        "billing_email": "",
        "phone": "+442079460001",
        "language": "en",
        "timezone": "UTC",
        "address1": "",
        "address2": "",
        "city": "London",
        "state": "",
        "postcode": "",
        "country": "GB",
        "group": "",
        "currency": "GBP",
        "tax_id": "",
        "default_payment_method": "",
        "source": "phone",
        "legacy_id": "",
        "signed_up_on": "",
        "audit_reason": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


class ClientGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "clients.ClientGroup"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Group {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "clients.Contact"

    client = factory.SubFactory(ClientFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "clients.Note"

    client = factory.SubFactory(ClientFactory)
    author = factory.SubFactory("tests.factories.users.StaffFactory")
    body = factory.Faker("sentence")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "clients.CustomField"

    name = factory.Sequence(lambda n: f"Field {n}")
    field_type = "text"
