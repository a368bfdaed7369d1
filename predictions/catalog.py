"""Read-only API over the warehouse: players (accent- and case-insensitive search), teams,
games (date range, team, status, season) and a player's game logs. Registered in nbaproject/urls.py."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import filters, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny

from etl.lines import SHOOTING
from etl.models import Game, Player, PlayerGameLog, Team
from etl.teams import ALIASES, unknown_team_message
from predictions.dates import NotADate, parse_iso_date
from predictions.openapi import ApiAutoSchema
from predictions.selectors import search_players


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "code", "bref_code", "name", "nickname"]


class PlayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Player
        fields = ["id", "name", "nba_id", "bref_id"]


@extend_schema_field({"type": "string", "description": "`scheduled` or `final`", "example": "final"})
class GameStatusField(serializers.CharField):
    """A game's status, described inline (its enum would collide with the predictions' status)."""


class GameSerializer(serializers.ModelSerializer):
    home = serializers.SlugRelatedField(slug_field="code", read_only=True)
    away = serializers.SlugRelatedField(slug_field="code", read_only=True)
    status = GameStatusField(read_only=True)

    class Meta:
        model = Game
        fields = [
            "id",
            "season",
            "season_type",
            "date",
            "start_time",
            "home",
            "away",
            "home_score",
            "away_score",
            "overtimes",
            "status",
            "nba_game_id",
            "bref_game_id",
        ]


class GameLogSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="code", read_only=True)
    opponent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    minutes = serializers.SerializerMethodField()

    class Meta:
        model = PlayerGameLog
        fields = [
            "id",
            "game",
            "date",
            "season",
            "team",
            "opponent",
            "is_home",
            "starter",
            "minutes",
            "pts",
            "reb",
            "ast",
            "stl",
            "blk",
            "tov",
            *SHOOTING,
            "plus_minus",
        ]

    def get_minutes(self, obj) -> float:
        return round(obj.seconds / 60, 1)


def without_nul(text: str) -> str:
    """NUL characters dropped: PostgreSQL refuses them in text, and they mean nothing in a search."""
    return text.replace("\x00", "")


def query_text(request, name: str) -> str:
    return without_nul(request.query_params.get(name, ""))


class PlayerNameSearch(filters.BaseFilterBackend):
    """`?search=doncic`: every word of the query in the player's name, ignoring case and accents."""

    def filter_queryset(self, request, queryset, view):
        query = query_text(request, "search")[:128]
        if not query.strip():
            return queryset
        return queryset.filter(pk__in=search_players(query).values("pk"))

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "search",
                "required": False,
                "in": "query",
                "schema": {"type": "string"},
                "description": "Words of the player's name; case and accents do not matter (doncic).",
            }
        ]


EMPTY_VALUE = "must not be empty: give a value, or leave the parameter out."


class TextField(forms.CharField):
    """Text with its NUL characters dropped, as in the searches: a schema-valid string is never
    refused for them (Django's CharField would answer 400)."""

    def to_python(self, value):
        return without_nul(super().to_python(value))


class TextFilter(django_filters.CharFilter):
    field_class = TextField


class NonEmptyValue:
    """A query parameter given with an empty value (`?date_before=`) is a 400, as the schema says
    (it asks for a date, a choice or a team there); leaving the parameter out does not filter.
    Django hands a form field None for an absent parameter and "" for an empty one."""

    def clean(self, value):
        if isinstance(value, str) and not value.strip():
            raise forms.ValidationError(EMPTY_VALUE)
        return super().clean(value)


class TeamField(NonEmptyValue, TextField):
    """A team by any code or name; an unknown one is a 400 with the reason."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        team = Team.objects.resolve(value)
        if team is None:
            raise forms.ValidationError(unknown_team_message(value))
        return team


def team_names() -> list[str]:
    """Every code and name a team filter accepts, as written in etl.teams (case does not matter)."""
    return list(dict.fromkeys(alias for aliases in ALIASES.values() for alias in aliases))


@extend_schema_field(
    {
        "type": "string",
        "enum": team_names(),
        "description": "A team's code or name, current or former (case does not matter).",
    }
)
class TeamFilter(django_filters.Filter):
    field_class = TeamField


class CalendarDateField(NonEmptyValue, forms.Field):
    """YYYY-MM-DD; a day that is not on the calendar (2024-02-30) is told as such."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return parse_iso_date(without_nul(value))
        except NotADate as exc:
            raise forms.ValidationError(str(exc)) from None


@extend_schema_field(OpenApiTypes.DATE)
class CalendarDateFilter(django_filters.Filter):
    field_class = CalendarDateField


class NonEmptyChoiceField(NonEmptyValue, django_filters.fields.ChoiceField):
    pass


class NonEmptyChoiceFilter(django_filters.ChoiceFilter):
    field_class = NonEmptyChoiceField


def date_range(help_text: str = "inclusive, YYYY-MM-DD") -> tuple[CalendarDateFilter, CalendarDateFilter]:
    """`date_after` / `date_before` on the `date` field (each inclusive)."""
    return (
        CalendarDateFilter(field_name="date", lookup_expr="gte", help_text=f"From this date ({help_text})."),
        CalendarDateFilter(field_name="date", lookup_expr="lte", help_text=f"Up to this date ({help_text})."),
    )


class GameFilter(django_filters.FilterSet):
    date_after, date_before = date_range()
    team = TeamFilter(method="filter_team", help_text="Games of this team, home or away (code, name or city).")
    status = NonEmptyChoiceFilter(choices=Game.Status.choices)
    season = TextFilter(help_text="e.g. 2023-24")

    class Meta:
        model = Game
        fields = ["date_after", "date_before", "team", "status", "season"]

    def filter_team(self, queryset, name, team):
        return queryset.filter(Q(home=team) | Q(away=team)) if team else queryset


class GameLogFilter(django_filters.FilterSet):
    season = TextFilter(help_text="e.g. 2023-24")
    date_after, date_before = date_range()

    class Meta:
        model = PlayerGameLog
        fields = ["season", "date_after", "date_before"]


class TextSearch(filters.SearchFilter):
    """DRF's search, with NUL characters dropped like the player search does (DRF answers them
    with an undocumented 400 whose body is a bare list)."""

    def get_search_terms(self, request):
        return filters.search_smart_split(query_text(request, self.search_param))


class ReadOnlyCatalog(viewsets.ReadOnlyModelViewSet):
    """Public reference data: anyone may read it (writes do not exist)."""

    permission_classes = [AllowAny]
    schema = ApiAutoSchema()
    lookup_value_regex = "[^/]+"  # any id reaches the view, so a malformed one is a JSON 404 too


class PlayerViewSet(ReadOnlyCatalog):
    """Players; `?search=` matches every word of the name, ignoring case and accents."""

    queryset = Player.objects.order_by("name", "pk")
    serializer_class = PlayerSerializer
    filter_backends = [PlayerNameSearch, filters.OrderingFilter]
    ordering_fields = ["name", "id"]

    @extend_schema(
        responses=GameLogSerializer(many=True),
        parameters=[
            OpenApiParameter("season", OpenApiTypes.STR),
            OpenApiParameter("date_after", OpenApiTypes.DATE),
            OpenApiParameter("date_before", OpenApiTypes.DATE),
            OpenApiParameter("ordering", OpenApiTypes.STR, description="date or -date (default, newest first)"),
        ],
    )
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=GameLogSerializer)
    def gamelogs(self, request, pk=None):
        """The player's box-score lines, newest first (paginated)."""
        player = self.get_object()
        logs = PlayerGameLog.objects.filter(player=player).select_related("team", "opponent")
        filterset = GameLogFilter(request.query_params, queryset=logs, request=request)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        ordering = "date" if request.query_params.get("ordering") == "date" else "-date"
        page = self.paginate_queryset(filterset.qs.order_by(ordering, "pk"))
        return self.get_paginated_response(GameLogSerializer(page, many=True).data)


class TeamViewSet(ReadOnlyCatalog):
    queryset = Team.objects.order_by("code")
    serializer_class = TeamSerializer
    filter_backends = [TextSearch]
    search_fields = ["code", "name", "nickname"]


class GameViewSet(ReadOnlyCatalog):
    """Games; filter by `date_after`/`date_before`, `team`, `status`, `season`."""

    queryset = Game.objects.select_related("home", "away").order_by("date", "pk")
    serializer_class = GameSerializer
    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    filterset_class = GameFilter
    ordering_fields = ["date"]
