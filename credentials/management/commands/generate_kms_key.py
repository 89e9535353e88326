from django.core.management.base import BaseCommand

from credentials.kms.local import generate_key


class Command(BaseCommand):
    help = (
        "Print a fresh local KMS key (base64 of 32 random bytes) for SINATRA_LOCAL_DEV_KMS_KEY. "
        "Keep it safe: losing it loses every credential it protects."
    )
    requires_system_checks = []

    def handle(self, **options):
        self.stdout.write(generate_key())
