from __future__ import annotations

import factory

from kb import services
from kb.models import Category
from tests.factories.users import StaffFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


def write_article(*, actor=None, category=None, **data):
    """An article saved through the service (so it has its HTML and revision 1)."""
    data.setdefault("title", "How to point your domain at us")
    data.setdefault("body", "Set the **name servers** to ours.")
    data.setdefault("status", "published")
    data.setdefault("visibility", "public")
    data["category"] = category or CategoryFactory()
    return services.save_article(data=data, actor=actor or StaffFactory(role="Support"))
