"""The API root: every app registers its viewsets on this one router."""
from rest_framework.routers import DefaultRouter

from predictions.api import PredictionViewSet
from predictions.catalog import GameViewSet, PlayerViewSet, TeamViewSet

router = DefaultRouter()
router.register("players", PlayerViewSet, basename="player")
router.register("teams", TeamViewSet, basename="team")
router.register("games", GameViewSet, basename="game")
router.register("predictions", PredictionViewSet, basename="prediction")

api_urlpatterns = router.urls
