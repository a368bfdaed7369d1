"""URL configuration: admin, the API under /api/v1/ (every app's viewsets on one router), its schema
and docs (Swagger UI, Redoc), the health probe, the Prometheus metrics, the user pages. The one module of
the config package that names apps."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework.routers import DefaultRouter

from predictions.api import PredictionViewSet
from predictions.catalog import GameViewSet, PlayerViewSet, TeamViewSet
from predictions.slate_api import SlateViewSet

router = DefaultRouter()
router.register("players", PlayerViewSet, basename="player")
router.register("teams", TeamViewSet, basename="team")
router.register("games", GameViewSet, basename="game")
router.register("predictions", PredictionViewSet, basename="prediction")
router.register("slates", SlateViewSet, basename="slate")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api-auth/", include("rest_framework.urls")),
    path("healthz", include("operations.health")),
    path("metrics", include("operations.metrics")),  # Prometheus: staff and METRICS_ALLOWED_IPS only
    path("", include("predictions.urls")),  # the user page at /, /login/, /logout/
]
