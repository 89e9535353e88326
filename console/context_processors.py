from django.conf import settings


def site(request) -> dict:
    """What every page may need to know about this installation."""
    return {"allow_signup": settings.SINATRA_ALLOW_SIGNUP}
