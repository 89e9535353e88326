from django.urls import path

from . import views

urlpatterns = [
    path("t/<slug:slug>/credentials/", views.credentials, name="credentials"),
    path("t/<slug:slug>/credentials/<str:provider>/replace/", views.replace, name="credential-replace"),
    path("t/<slug:slug>/credentials/<uuid:credential_id>/revoke/", views.revoke, name="credential-revoke"),
    path("t/<slug:slug>/credentials/<uuid:credential_id>/verify/", views.reverify, name="credential-verify"),
]
