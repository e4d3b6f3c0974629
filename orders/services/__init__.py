"""Manual orders, promotions, upgrades/downgrades and cancellations.

Orders are priced once (``plan_order``), and what the preview shows is what placing the order
stores: the same plan. Accepting an order creates the hosting accounts, domains and add-ons
through ``hosting.services`` and one invoice through ``billing.services``, in one transaction;
any refusal rolls all of it back. Product changes are prorated by ``orders.proration`` and
kept as ``ServiceChange`` rows.

Pricing writes nothing and lives next to the proration, in ``orders/pricing.py``
(``plan_order``, ``plan_change``). The services, one module per aggregate; callers import from
the package (``from orders import services``), which re-exports every public name, the
pricing's included:

- ``orders``: placing, accepting, cancelling an order or flagging it as fraud;
- ``changes``: upgrades and downgrades, applied when paid, withdrawn;
- ``cancellations``: cancelling an account now or at the end of its period;
- ``_shared``: what every service change request shares (saving, one pending, carrying out).

Locks follow the order written in ``billing/services/__init__.py``.
"""

from orders.pricing import (
    CHANGEABLE,
    ITEM_STATUSES,
    MAX_ORDER_LINES,
    ZERO,
    AddonLineData,
    ChangePlan,
    DomainLineData,
    OrderPlan,
    PricedLine,
    ProductLineData,
    plan_change,
    plan_order,
)
from orders.services._shared import CHANGE_CONSTRAINTS
from orders.services.cancellations import process_due_cancellations, request_cancellation
from orders.services.changes import (
    apply_paid_changes,
    change_service_product,
    withdraw_change,
    withdraw_for_cancelled_invoice,
)
from orders.services.orders import accept_order, change_order_status, place_order

__all__ = [
    "CHANGEABLE",
    "CHANGE_CONSTRAINTS",
    "ITEM_STATUSES",
    "MAX_ORDER_LINES",
    "ZERO",
    "AddonLineData",
    "ChangePlan",
    "DomainLineData",
    "OrderPlan",
    "PricedLine",
    "ProductLineData",
    "accept_order",
    "apply_paid_changes",
    "change_order_status",
    "change_service_product",
    "place_order",
    "plan_change",
    "plan_order",
    "process_due_cancellations",
    "request_cancellation",
    "withdraw_change",
    "withdraw_for_cancelled_invoice",
]
