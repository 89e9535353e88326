import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import migrations, models
from django.db.models import Q


def owner_links_create_their_accounts(apps, schema_editor):
    """Record which existing links create_tenant issued to create their account.

    Before this field, create_tenant's owner links were the only ones with no inviter and the
    owner role (the members page invites admins and members, and names who invited). Where such
    a link's account still has no password and has never signed in, the link keeps choosing its
    password; every other link now asks an existing account to sign in.
    """
    Invitation = apps.get_model("tenants", "Invitation")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    for invitation in Invitation.objects.filter(invited_by=None, role="owner", creates_user=None):
        account = (
            User.objects.filter(Q(email__iexact=invitation.email) | Q(username__iexact=invitation.email))
            .order_by("pk")
            .first()
        )
        if (
            account is not None
            and account.password.startswith(UNUSABLE_PASSWORD_PREFIX)
            and account.last_login is None
            and account.is_active
            and not (account.is_staff or account.is_superuser)
        ):
            invitation.creates_user = account
            invitation.save(update_fields=["creates_user"])


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0002_invitation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='invitation',
            name='creates_user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(owner_links_create_their_accounts, migrations.RunPython.noop),
    ]
