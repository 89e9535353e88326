"""The production URLs (sinatra.urls), plus a bare Django JSON view to compare the API with (`make bench-http`)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from sinatra.urls import urlpatterns as sinatra_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    """Answer a small JSON object: what the same stack costs without any work of Sinatra's."""
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/bare", bare), *sinatra_urlpatterns]
