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
