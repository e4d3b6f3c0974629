import django.db.models.deletion
from django.db import migrations, models


def record_current_holdings(apps, schema_editor):
    """Until now every ``migrate`` reset the roles to their defaults: what each role holds is
    what it has been offered."""
    from core.roles import ROLES

    group_model = apps.get_model("auth", "Group")
    offer_model = apps.get_model("core", "RoleOffer")
    for group in group_model.objects.filter(name__in=ROLES):
        offer_model.objects.bulk_create(
            [offer_model(group=group, permission=p) for p in group.permissions.all()],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("core", "0001_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoleOffer",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("offered_at", models.DateTimeField(auto_now_add=True)),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="auth.group",
                    ),
                ),
                (
                    "permission",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="auth.permission",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("group", "permission"), name="core_roleoffer_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(record_current_holdings, migrations.RunPython.noop),
    ]
