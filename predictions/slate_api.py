"""`/api/v1/slates/`: every expected player's points range for one day's games, as one job.

POST answers 202 with the slate's status URL (the same slate for the same date and active models:
asking again returns it); GET shows its progress ("k of n games, m players"), then per game its
players' ranges (`?format=csv`: the same rows as CSV); `events/` streams the progress as
server-sent events. Slates are shared: any signed-in user reads any slate.
"""

from __future__ import annotations

import csv
import io
import time

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, parsers, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from predictions import slate_services as services
from predictions import who_is_out
from predictions.api import (
    CalendarDateField,
    EventStreamRenderer,
    JobLinksSerializer,
    LimitedJSONParser,
    OutPlayerSerializer,
    accepted,
    out_input_field,
    out_players_field,
    refuse_oversized_body,
)
from predictions.dates import product_today
from predictions.events import sse
from predictions.openapi import SSE_EVENT, ApiAutoSchema
from predictions.slate_models import Slate

CSV_COLUMNS = [
    "game",
    "date",
    "home",
    "away",
    "player",
    "name",
    "team",
    "p10",
    "p50",
    "p90",
    "data_through",
    "actual",
    "inside",
]


class SlateInputSerializer(serializers.Serializer):
    date = CalendarDateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The day, YYYY-MM-DD (default: the product's today, AS_OF_DATE).",
    )
    out = out_input_field(
        help_text="Who is out: names or ids of players who will not play that day (injured, "
        "resting), at most PREDICTIONS_MAX_OUT_PLAYERS. They get no row, and their "
        "teammates' features use their absence. A slate is one per (date, active "
        "models, out set). An unknown or ambiguous name is a 400 naming it."
    )


class SlateAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    status = serializers.ChoiceField(choices=Slate.Status.choices)
    status_url = serializers.URLField()
    events_url = serializers.URLField()
    out = OutPlayerSerializer(
        many=True,
        allow_null=True,
        help_text="Who is out, resolved (null: none given); `ignored`: his team has no game that day.",
    )


class SlatePlayerSerializer(serializers.Serializer):
    player = serializers.IntegerField(help_text="Player id.")
    name = serializers.CharField()
    team = serializers.CharField(help_text="Team code.")
    p10 = serializers.FloatField()
    p50 = serializers.FloatField()
    p90 = serializers.FloatField()
    data_through = serializers.DateField(allow_null=True, help_text="Date of the last game the features used.")
    actual = serializers.IntegerField(allow_null=True, help_text="Points scored, once the game was played.")
    inside = serializers.BooleanField(allow_null=True, help_text="Whether the actual fell inside p10-p90.")


class SlateGameSerializer(serializers.Serializer):
    game = serializers.IntegerField(help_text="Game id.")
    date = serializers.DateField()
    home = serializers.CharField(allow_null=True)
    away = serializers.CharField(allow_null=True)
    players = SlatePlayerSerializer(many=True)


class SlateSerializer(JobLinksSerializer, serializers.ModelSerializer):
    ROUTE = "slate"
    progress = serializers.CharField(source="progress_text", read_only=True, help_text="'k of n games, m players'.")
    error = serializers.CharField(source="message", read_only=True)
    games = serializers.SerializerMethodField()
    out = out_players_field("Who is out, resolved (null: none given); `ignored`: his team has no game that day.")

    class Meta:
        model = Slate
        fields = [
            "id",
            "url",
            "events_url",
            "date",
            "status",
            "progress",
            "games_total",
            "games_done",
            "players_done",
            "percent",
            "error",
            "model_versions",
            "out",
            "coverage_80",
            "seconds",
            "created_at",
            "started_at",
            "finished_at",
            "games",
        ]
        read_only_fields = fields

    @extend_schema_field(SlateGameSerializer(many=True))
    def get_games(self, obj):
        """Per game its players (only once finished: the rows of a running slate are partial)."""
        if obj.status != Slate.Status.SUCCEEDED:
            return []
        return SlateGameSerializer(services.slate_games(obj), many=True).data


class CSVRenderer(renderers.BaseRenderer):
    """A slate's rows as CSV (one line per player), or a one-column CSV of an error's detail."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        if isinstance(data, dict) and "games" in data:
            writer.writerow(CSV_COLUMNS)
            for game in data["games"]:
                for player in game["players"]:
                    writer.writerow(
                        [game["game"], game["date"], game["home"], game["away"], *(player[c] for c in CSV_COLUMNS[4:])]
                    )
        else:
            writer.writerow(["detail"])
            writer.writerow([data.get("detail", data) if isinstance(data, dict) else data])
        return out.getvalue().encode(self.charset)


CSV_BODY = {"type": "string", "description": "One line per player: " + ", ".join(CSV_COLUMNS) + "."}


class SlateViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Slates: every expected player's range for one day's games. POST answers 202 at once."""

    serializer_class = SlateSerializer
    schema = ApiAutoSchema()
    lookup_value_regex = "[^/]+"
    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser, parsers.FormParser]
    filter_backends = []
    queryset = Slate.objects.order_by("-created_at")

    def get_object(self):
        pk = self.kwargs.get("pk", "")
        if not str(pk).isdecimal() or int(pk) > 2**62:  # not isdigit: int() refuses '²'
            from django.http import Http404

            raise Http404("No slate with this id.")
        return super().get_object()

    def get_renderers(self):
        if self.action == "retrieve":
            return [renderers.JSONRenderer(), renderers.BrowsableAPIRenderer(), CSVRenderer()]
        return super().get_renderers()

    def get_serializer_class(self):
        return SlateInputSerializer if self.action == "create" else SlateSerializer

    def initial(self, request, *args, **kwargs):
        refuse_oversized_body(request)
        super().initial(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        """Slates, newest first (without their rows: open one for them)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=SlateInputSerializer,
        responses={
            202: SlateAcceptedSerializer,
            400: OpenApiTypes.OBJECT,
            413: OpenApiTypes.OBJECT,
            422: OpenApiTypes.OBJECT,
        },
        examples=[
            OpenApiExample("a past night", value={"date": "2024-03-15"}, request_only=True),
            OpenApiExample("who is out", value={"date": "2024-03-15", "out": ["Kyrie Irving"]}, request_only=True),
            OpenApiExample("today", value={}, request_only=True),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Ask for a day's slate (default: today): stored, queued after commit, answered 202 with its URL."""
        given = SlateInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        day = given.validated_data.get("date") or product_today()
        try:
            slate, created = services.submit_slate(request.user, day, out=given.validated_data.get("out"))
        except who_is_out.OutListError as exc:
            return Response({"out": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        except services.SlateRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        body = {"id": slate.pk, "date": slate.date, "status": slate.status, "out": slate.out_players}
        return accepted(request, "slate", body, replayed=not created)

    @extend_schema(responses={(200, "application/json"): SlateSerializer, (200, "text/csv"): CSV_BODY})
    def retrieve(self, request, *args, **kwargs):
        """A slate: status, progress, then per game its players' ranges (`?format=csv`: CSV rows)."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=SSE_EVENT,
                description="`event: progress` frames (JSON: status, progress, games_done, "
                "games_total, players_done, percent) when they change, then one "
                "`event: result` with the same JSON as the detail endpoint.",
            )
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=[EventStreamRenderer, renderers.JSONRenderer])
    def events(self, request, pk=None):
        """Server-sent events: the slate's progress until it is done, then the slate."""
        slate = self.get_object()
        context = self.get_serializer_context()
        response = StreamingHttpResponse(
            slate_event_stream(slate.pk, context), content_type="text/event-stream; charset=utf-8"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response


def slate_event_stream(slate_id, context, lifetime: float | None = None, poll: float = 0.2):
    """SSE frames: a progress frame whenever the counters move, then the result (or a timeout)."""
    lifetime = float(settings.PREDICTIONS_SSE_LIFETIME) if lifetime is None else lifetime
    deadline = time.monotonic() + lifetime
    yield "retry: 1000\n\n"
    last = None
    seq = 0
    while True:
        slate = Slate.objects.filter(pk=slate_id).first()
        if slate is None:
            yield sse("error", {"detail": "the slate no longer exists"})
            return
        state = (slate.status, slate.games_done, slate.games_total, slate.players_done, slate.percent)
        if state != last:
            last = state
            seq += 1
            yield sse(
                "progress",
                {
                    "status": slate.status,
                    "progress": slate.progress_text,
                    "games_done": slate.games_done,
                    "games_total": slate.games_total,
                    "players_done": slate.players_done,
                    "percent": slate.percent,
                },
                seq,
            )
        if slate.is_finished:
            yield sse("result", SlateSerializer(slate, context=context).data, seq)
            return
        if time.monotonic() >= deadline:
            yield sse("timeout", {"detail": "stream lifetime reached: reconnect to continue"})
            return
        time.sleep(poll)
