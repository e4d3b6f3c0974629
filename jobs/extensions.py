"""The queue's place in the shared screens (core/extension_points.py): its jobs, failed ones
included, one click from the sidebar for those who may see them (Admins)."""

from core.extension_points import NavSection, register

register(
    NavSection(
        "jobs",
        "Background jobs",
        "admin:procrastinate_procrastinatejob_changelist",
        "procrastinate.view_procrastinatejob",
        heading="Audit",
    ),
)
