"""Support rows. Tickets and replies are built through the services (numbers, activity and
emails are theirs to set); departments and communications are plain rows."""

from __future__ import annotations

import factory
from django.core.files.uploadedfile import SimpleUploadedFile

from support import services
from support.models import Communication, Department
from tests.factories.clients import ClientFactory
from tests.factories.users import StaffFactory

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Department {n}")
    email = factory.Sequence(lambda n: f"support{n}@example-hosting.com")


def png(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def text_file(name: str = "error.log", content: bytes = b"500 Internal Server Error\n"):
    return SimpleUploadedFile(name, content, content_type="text/plain")


def open_ticket(*, customer=None, actor=None, department=None, **kwargs):
    """A ticket for a client (a new one unless ``customer=None`` with ``name``/``email``)."""
    if "name" not in kwargs and customer is None:
        customer = ClientFactory()
    kwargs.setdefault("subject", "Website down")
    kwargs.setdefault("message", "My site shows a 500 error since this morning.")
    return services.open_ticket(
        department=department or DepartmentFactory(name="Technical support"),
        client=customer,
        actor=actor or StaffFactory(role="Support"),
        **kwargs,
    )


class CommunicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Communication

    client = factory.SubFactory(ClientFactory)
    channel = Communication.Channel.PHONE
    direction = Communication.Direction.INBOUND
    summary = "Asked about the renewal price."
    outcome = Communication.Outcome.INFORMATION
    logged_by = factory.SubFactory(StaffFactory)
