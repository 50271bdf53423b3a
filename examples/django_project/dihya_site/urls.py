"""One endpoint: POST /generate."""

from __future__ import annotations

from django.urls import path

from dihya_site import views

urlpatterns = [path("generate", views.generate)]
