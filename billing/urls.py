from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("invoices/", views.InvoiceListView.as_view(), name="invoice-list"),
    path("invoices/new/", views.InvoiceEditorView.as_view(), name="invoice-create"),
    path("invoices/<int:pk>/", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<int:pk>/edit/", views.InvoiceEditorView.as_view(), name="invoice-update"),
    path("invoices/<int:pk>/delete/", views.InvoiceDeleteView.as_view(), name="invoice-delete"),
    path("invoices/<int:pk>/publish/", views.InvoicePublishView.as_view(), name="invoice-publish"),
    path("invoices/<int:pk>/pdf/", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    path("invoices/<int:pk>/email/", views.InvoiceEmailView.as_view(), name="invoice-email"),
    path("invoices/<int:pk>/payment/", views.InvoicePaymentView.as_view(), name="payment-create"),
    path(
        "invoices/<int:pk>/apply-credit/",
        views.InvoiceApplyCreditView.as_view(),
        name="invoice-apply-credit",
    ),
    path(
        "invoices/<int:pk>/mark-paid/",
        views.InvoiceMarkPaidView.as_view(),
        name="invoice-mark-paid",
    ),
    path(
        "invoices/<int:pk>/status/<str:status>/",
        views.InvoiceStatusView.as_view(),
        name="invoice-status",
    ),
    path("transactions/", views.TransactionListView.as_view(), name="transaction-list"),
    path("transactions/new/", views.TransactionCreateView.as_view(), name="transaction-create"),
    path(
        "transactions/<int:pk>/", views.TransactionDetailView.as_view(), name="transaction-detail"
    ),
    path("transactions/<int:pk>/refund/", views.RefundView.as_view(), name="refund-create"),
    path(
        "clients/<int:client_pk>/transactions/new/",
        views.TransactionCreateView.as_view(),
        name="client-transaction-create",
    ),
    path(
        "clients/<int:client_pk>/payment/",
        views.SplitPaymentView.as_view(),
        name="client-payment-create",
    ),
    path("clients/<int:client_pk>/credit/", views.CreditView.as_view(), name="credit-change"),
    path(
        "clients/<int:client_pk>/billable-items/new/",
        views.BillableItemCreateView.as_view(),
        name="billableitem-create",
    ),
    path(
        "billable-items/<int:pk>/delete/",
        views.BillableItemDeleteView.as_view(),
        name="billableitem-delete",
    ),
]
