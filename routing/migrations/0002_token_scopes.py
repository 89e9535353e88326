# Service tokens gain a scope (the tenants they may resolve) and an expiry, and an audit trail.
#
# Tokens that exist when this runs were created before scopes existed: they keep working as
# all-tenant tokens, marked so (`list_service_tokens` shows "all tenants (from before scopes)").

import django.db.models.deletion
from django.db import migrations, models

SCOPES = [
    ("tenants", "the tenants it names"),
    ("all", "all tenants"),
    ("all-before-scopes", "all tenants (from before scopes)"),
]


def existing_tokens_cover_all_tenants(apps, schema_editor):
    ServiceToken = apps.get_model("routing", "ServiceToken")
    ServiceToken.objects.using(schema_editor.connection.alias).filter(scope__isnull=True).update(
        scope="all-before-scopes"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0001_initial"),
        ("tenants", "0002_invitation"),
    ]

    operations = [
        migrations.AddField(
            model_name="servicetoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="Empty: it does not expire.", null=True),
        ),
        migrations.AddField(
            model_name="servicetoken",
            name="scope",
            field=models.CharField(choices=SCOPES, max_length=20, null=True),
        ),
        migrations.RunPython(existing_tokens_cover_all_tenants, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="servicetoken",
            name="scope",
            field=models.CharField(choices=SCOPES, max_length=20),
        ),
        migrations.AddField(
            model_name="servicetoken",
            name="tenants",
            field=models.ManyToManyField(
                blank=True,
                help_text="The tenants it may resolve, when its scope names them.",
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.CreateModel(
            name="ServiceTokenEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("revoked", "Revoked"),
                            ("refused_tenant", "Refused a tenant outside its scope"),
                        ],
                        max_length=32,
                    ),
                ),
                (
                    "actor",
                    models.CharField(help_text="command:<name>, a user's email, or the token itself.", max_length=200),
                ),
                ("detail", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "tenant",
                    models.ForeignKey(
                        blank=True,
                        help_text="The tenant a refused request asked for, when it exists.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
                (
                    "token",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="events", to="routing.servicetoken"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
    ]
