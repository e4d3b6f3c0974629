"""The hosting admin writes only through the rules of the app: add-ons are not edited there, and
removing a catalog price on a product, TLD or add-on page needs a reason like every admin
delete (issue 15 item 15)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from audit.tracking import event_model_for
from core.roles import ADMIN, BILLING, SUPPORT
from hosting import services
from hosting.models import Addon, AddonDefinition, AddonPrice, Product, ProductPrice, Tld, TldPrice
from tests.admin_forms import change_form_data
from tests.factories.hosting import ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def addon(staff_admin):
    return services.add_addon(
        service=ServiceFactory(),
        data={"name": "Extra IP", "recurring_price": Decimal("4.00"), "billing_cycle": "monthly"},
        actor=staff_admin,
        status=Addon.Status.ACTIVE,
    )


@pytest.mark.parametrize("role", [BILLING, SUPPORT, ADMIN])
def test_addon_admin_cannot_set_status_price_or_definition(role, addon, client_as, catalog):
    url = reverse("admin:hosting_addon_change", args=[addon.pk])
    http = client_as(role)
    page = http.get(url)
    assert page.status_code == 200  # looked at, not edited
    data = {
        "service": addon.service_id,
        "definition": AddonDefinition.objects.first().pk,
        "name": "Extra IP",
        "setup_fee": "0.00",
        "recurring_price": "0.00",
        "billing_cycle": "monthly",
        "status": "terminated",
        "audit_reason": "",
    }
    assert http.post(url, data).status_code == 403
    addon.refresh_from_db()
    assert (addon.status, addon.recurring_price, addon.definition_id) == ("active", 4, None)


INLINES = [
    ("admin:hosting_product_change", lambda: Product.objects.get(name="VPS 4 GB"), ProductPrice),
    ("admin:hosting_tld_change", lambda: Tld.objects.get(name="com"), TldPrice),
    (
        "admin:hosting_addondefinition_change",
        lambda: AddonDefinition.objects.get(name="Dedicated IP"),
        AddonPrice,
    ),
]


@pytest.mark.parametrize(("url_name", "parent", "price_model"), INLINES)
def test_deleting_a_catalog_price_inline_needs_a_reason(
    url_name, parent, price_model, staff_client, catalog
):
    url = reverse(url_name, args=[parent().pk])
    data = change_form_data(staff_client.get(url))
    price_id = int(data["prices-0-id"])
    data["prices-0-DELETE"] = "on"
    refused = staff_client.post(url, data)
    assert refused.status_code == 200
    assert "Give a reason" in refused.content.decode()
    assert price_model.objects.filter(pk=price_id).exists()

    data["audit_reason"] = "no longer sold"
    assert staff_client.post(url, data).status_code == 302
    assert not price_model.objects.filter(pk=price_id).exists()
    deleted = event_model_for(price_model).objects.get(pgh_obj_id=price_id, pgh_label="delete")
    assert deleted.pgh_context.metadata["reason"] == "no longer sold"


def test_changing_a_catalog_price_inline_still_needs_no_reason(staff_client, catalog):
    product = Product.objects.get(name="VPS 4 GB")
    url = reverse("admin:hosting_product_change", args=[product.pk])
    data = change_form_data(staff_client.get(url))
    data["prices-0-price"] = "99.00"
    assert staff_client.post(url, data).status_code == 302
    assert ProductPrice.objects.get(pk=data["prices-0-id"]).price == Decimal("99.00")
