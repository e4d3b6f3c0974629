"""Hosting: the service and domain lists, filtered and searched."""

from __future__ import annotations

from benchmarks.scenarios.bench import Bench, deeper, row


def run(b: Bench) -> list[dict]:
    services_1 = b.time("service list p1", "/hosting/services/")
    services_deep = b.time("service list p1000", "/hosting/services/?page=1000")
    services_f = b.time(
        "service list filtered",
        "/hosting/services/?status=suspended&due_after=2026-01-01&due_before=2027-12-31",
    )
    admin_services = b.time("admin services", "/admin/hosting/service/")
    admin_services_f = b.time(
        "admin services filtered", "/admin/hosting/service/?status__exact=suspended"
    )
    domains_1 = b.time("domain list p1", "/hosting/domains/")
    domains_f = b.time(
        "domain list filtered",
        "/hosting/domains/?status=active&expires_after=2026-12-01&expires_before=2027-06-30",
    )
    domain_search = b.time("domain search", "/hosting/domains/?q=bench12")
    admin_domains = b.time("admin domains", "/admin/hosting/domain/")
    admin_domains_f = b.time(
        "admin domains filtered", "/admin/hosting/domain/?status__exact=active"
    )
    return [
        row("Services, page 1", services_1, admin_services),
        row(
            "Services, page 1,000", services_deep, admin_services, deeper(services_deep, services_1)
        ),
        row("Services, status + due range", services_f, admin_services_f),
        row("Domains, page 1", domains_1, admin_domains),
        row("Domains, status + expiry range", domains_f, admin_domains_f),
        row("Domain search", domain_search, admin_domains),
    ]
