"""`/api/v1/predictions/`: submit a prediction (202 + status URL), read its state and result,
stream its progress as server-sent events. Users see their own requests, staff see all."""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, parsers, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle

from etl.models import Player
from predictions import selectors, submission, who_is_out
from predictions.catalog import GameSerializer
from predictions.dates import ISO_DATE, NotADate, parse_iso_date
from predictions.events import event_stream, parse_last_event_id
from predictions.models import Prediction, PredictionRequest
from predictions.openapi import SSE_EVENT, ApiAutoSchema

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "[^ \t]"}


def max_body_bytes() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 64 * 1024)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def refuse_oversized_body(request) -> None:
    """PayloadTooLarge for a POST whose Content-Length says it is over the limit, before the
    authentication and the throttle spend anything on it (LimitedJSONParser catches the rest)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if request.method == "POST" and length.isdecimal() and int(length) > max_body_bytes():
        raise PayloadTooLarge(f"Request body larger than {max_body_bytes()} bytes.")


class LimitedJSONParser(parsers.JSONParser):
    """JSON, refusing bodies over MAX_REQUEST_BYTES (even without a Content-Length) and NaN/Infinity."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets clients ask for `Accept: text/event-stream`; errors before the stream are one SSE frame."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return f"event: error\ndata: {json.dumps(data, default=str)}\n\n".encode()


class PredictionSubmitThrottle(BaseThrottle):
    """Per-user limit on submissions (THROTTLE_PREDICTIONS, e.g. 120/min); 429 with Retry-After beyond it.

    A sliding window counted on the user's own stored requests: one indexed query, exact across
    every web process, instead of the cache-based throttles' several cache-table round trips."""

    scope = "predictions"

    def __init__(self):
        self.wait_seconds = None

    def rate(self) -> tuple[int, int] | None:
        rate = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)
        if not rate:
            return None
        count, period = rate.split("/")
        return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]

    def allow_request(self, request, view):
        rate = self.rate()
        if rate is None or not request.user.is_authenticated:
            return True
        limit, window = rate
        since = timezone.now() - dt.timedelta(seconds=window)
        oldest_counted = selectors.nth_latest_request_since(request.user.pk, since, limit)
        if oldest_counted is None:
            return True
        self.wait_seconds = max(1.0, (oldest_counted - since).total_seconds())
        return False

    def wait(self):
        return self.wait_seconds


# --- Serializers ----------------------------------------------------------------------------------------


class CalendarDateField(serializers.DateField):
    """YYYY-MM-DD, where a day that is not on the calendar (2024-02-30) is told as such instead
    of DRF's "Date has wrong format"."""

    def to_internal_value(self, value):
        if isinstance(value, str) and ISO_DATE.match(value.strip()):
            try:
                return parse_iso_date(value)
            except NotADate as exc:
                raise serializers.ValidationError(str(exc)) from None
        return super().to_internal_value(value)


class OutListField(serializers.ListField):
    """A list of names whose errors stay a flat list of sentences, one per bad entry (DRF's
    ListField reports an entry's errors as {index: [...]}), as the other `out` errors are."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            given = data if isinstance(data, list) else []
            raise serializers.ValidationError(
                [
                    f"entry {int(index) + 1}{_quoted(given, int(index))}: {' '.join(str(m) for m in messages)}"
                    for index, messages in exc.detail.items()
                ]
            ) from None


def _quoted(given: list, index: int) -> str:
    value = given[index] if index < len(given) else None
    return f" ({str(value)[:40]!r})" if isinstance(value, str) and value.strip() else ""


def out_input_field(**kwargs) -> serializers.ListField:
    """`out`: who is out, the players who will not play (a prediction's and a slate's input)."""
    kwargs.setdefault(
        "help_text",
        (
            "Who is out: names (any case/accents) or ids of players who will not play the game, teammates or "
            "opponents (injured, resting), at most PREDICTIONS_MAX_OUT_PLAYERS. Each is resolved like `player`: an "
            "unknown or ambiguous name is a 400 naming it (with the closest names or the candidates). The features "
            "redistribute the missing teammates' minutes, shots and points; a player on neither team of the game is "
            "accepted and marked `ignored` in the answer. Leave it out when you do not know; an empty list means "
            "everyone plays."
        ),
    )
    return OutListField(
        child=serializers.CharField(min_length=1, max_length=128),
        required=False,
        allow_null=True,
        default=None,
        max_length=who_is_out.max_out_players(),
        **kwargs,
    )


class PredictionInputSerializer(serializers.Serializer):
    player = serializers.CharField(
        min_length=1, max_length=128, help_text="Player name (any case/accents) or player id."
    )
    opponent = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Opponent team code, name or city (BOS, Celtics, Boston).",
    )
    date = CalendarDateField(required=False, allow_null=True, default=None, help_text="Game date, YYYY-MM-DD.")
    home = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Home game? (hypothetical matchups; default true)"
    )
    out = out_input_field()


class AcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=PredictionRequest.Status.choices)
    status_url = serializers.URLField()
    events_url = serializers.URLField()


class PlayerRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Player
        fields = ["id", "name"]


class GameRefSerializer(GameSerializer):
    """The game of a prediction: the catalog's game, fewer fields."""

    class Meta(GameSerializer.Meta):
        fields = ["id", "date", "home", "away", "status", "home_score", "away_score"]


class EchoInputSerializer(serializers.Serializer):
    player = serializers.CharField(source="player_input")
    opponent = serializers.CharField(source="opponent_input")
    date = serializers.DateField(source="date_input", allow_null=True)
    home = serializers.BooleanField(source="home_input", allow_null=True)
    out = serializers.ListField(child=serializers.CharField(), source="out_input", allow_null=True)


class OutPlayerSerializer(serializers.Serializer):
    """One player declared out, as resolved."""

    id = serializers.IntegerField(help_text="Player id.")
    name = serializers.CharField()
    team = serializers.CharField(
        allow_null=True,
        help_text="Code of his team then (his last game before the "
        "game's date); null until the game is resolved, or without any game before it.",
    )
    ignored = serializers.BooleanField(
        allow_null=True,
        help_text="True when he is on neither team of the game: "
        "accepted, but he counts for nothing. Null until the game is resolved.",
    )


def out_players_field(help_text: str) -> OutPlayerSerializer:
    """`out`: who is out as resolved (a prediction's and a slate's `out_players`), read only."""
    return OutPlayerSerializer(source="out_players", many=True, read_only=True, allow_null=True, help_text=help_text)


class PredictionResultSerializer(serializers.ModelSerializer):
    actual_in_range = serializers.SerializerMethodField()

    class Meta:
        model = Prediction
        fields = [
            "p10",
            "p50",
            "p90",
            "data_through",
            "days_since_last_game",
            "actual_points",
            "actual_in_range",
            "model_outputs",
            "model_versions",
            "features",
            "timings",
            "created_at",
        ]
        extra_kwargs = {
            "data_through": {
                "help_text": "Date of the player's last game the features used: how fresh the data behind the range is."
            },
            "days_since_last_game": {"help_text": "Days from data_through to the game's date."},
        }

    def get_actual_in_range(self, obj) -> bool | None:
        if obj.actual_points is None:
            return None
        return obj.p10 <= obj.actual_points <= obj.p90


def job_url(request, route: str, pk, page: str = "detail") -> str:
    """The URL of a job's page (`<route>-detail`) or its events (`<route>-events`), absolute when
    the HTTP request is known."""
    path = reverse(f"{route}-{page}", args=[pk])
    return request.build_absolute_uri(path) if request is not None else path


# `url` and `events_url` of a job (a prediction request, a slate) whose URL names start with ROUTE. (No
# docstring: the OpenAPI schema would give it to every serializer made with it.)
class JobLinksSerializer(serializers.Serializer):
    ROUTE = ""
    url = serializers.SerializerMethodField()
    events_url = serializers.SerializerMethodField()

    def get_url(self, obj) -> str:
        return job_url(self.context.get("request"), self.ROUTE, obj.pk)

    def get_events_url(self, obj) -> str:
        return job_url(self.context.get("request"), self.ROUTE, obj.pk, "events")


def accepted(request, route: str, body: dict, replayed: bool) -> Response:
    """202 Accepted for a stored job (`body` holds its id): its status and events URLs added, the
    status URL in Location, and `Idempotent-Replayed: true` when the job already existed."""
    status_url = job_url(request, route, body["id"])
    body = {**body, "status_url": status_url, "events_url": job_url(request, route, body["id"], "events")}
    headers = {"Location": status_url, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return Response(body, status=status.HTTP_202_ACCEPTED, headers=headers)


class PredictionRequestSerializer(JobLinksSerializer, serializers.ModelSerializer):
    ROUTE = "prediction"
    user = serializers.CharField(source="user.get_username", read_only=True)
    step_label = serializers.CharField(read_only=True)
    label = serializers.CharField(
        read_only=True,
        help_text="What the request is about: the resolved player, "
        "opponent and date once known ('Nikola Jokić vs BOS on 2024-03-07'), "
        "what was typed until then.",
    )
    input = EchoInputSerializer(source="*", read_only=True)
    player = PlayerRefSerializer(read_only=True, allow_null=True)
    team = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    opponent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    game = GameRefSerializer(read_only=True, allow_null=True)
    date = serializers.DateField(source="game_date", read_only=True, allow_null=True)
    home = serializers.BooleanField(source="is_home", read_only=True, allow_null=True)
    hypothetical = serializers.BooleanField(read_only=True, allow_null=True)
    as_of = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="The product's today when it was asked (AS_OF_DATE, or today in UTC); "
        "without a date, the request means the next game on or after it.",
    )
    out = out_players_field("Who is out, resolved (null: no list given, not known).")
    result = PredictionResultSerializer(source="prediction", read_only=True, allow_null=True)
    # The API keeps its field names; the job row calls them stage and message (operations.models.Job).
    step = serializers.CharField(source="stage", read_only=True, help_text="The step running (or last run).")
    error = serializers.CharField(source="message", read_only=True, help_text="Human-readable reason of a failure.")

    class Meta:
        model = PredictionRequest
        fields = [
            "id",
            "url",
            "events_url",
            "user",
            "label",
            "status",
            "step",
            "step_label",
            "step_index",
            "step_count",
            "percent",
            "error",
            "input",
            "player",
            "team",
            "opponent",
            "game",
            "date",
            "home",
            "hypothetical",
            "as_of",
            "out",
            "result",
            "task_ids",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


# --- Views ----------------------------------------------------------------------------------------------

ERROR_400 = OpenApiResponse(
    response=inline_serializer(
        "PredictionInputErrors",
        {
            "player": serializers.ListField(child=serializers.CharField(), required=False),
            "opponent": serializers.ListField(child=serializers.CharField(), required=False),
            "date": serializers.ListField(child=serializers.CharField(), required=False),
            "out": serializers.ListField(
                child=serializers.CharField(),
                required=False,
                help_text="Who is out: one message per name that did not resolve (unknown, "
                "ambiguous, the player himself) or a list too long.",
            ),
            "did_you_mean": serializers.ListField(child=serializers.CharField(), required=False),
        },
    ),
    description="Field errors; for an unknown player, the closest names in `did_you_mean`.",
)
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})
ERROR_422 = OpenApiResponse(
    response=inline_serializer(
        "Unprocessable",
        {
            "detail": serializers.CharField(help_text="What is wrong and what to do, in one sentence."),
            "data_ends": serializers.DateField(
                required=False,
                allow_null=True,
                help_text="Missing or stale data: the warehouse's last played game before the requested date.",
            ),
            "recent_games": serializers.IntegerField(
                required=False, help_text="Too few recent games: how many the player has in the window before the date."
            ),
            "last_game": serializers.DateField(
                required=False, allow_null=True, help_text="Too few recent games: the date of his last game."
            ),
        },
    ),
    description="The answer would rest on missing or stale data (the warehouse has no game in the "
    "PREDICTIONS_STALE_DATA_DAYS before the date, or the player fewer than PREDICTIONS_MIN_RECENT_GAMES "
    "in the PREDICTIONS_RECENT_GAMES_WINDOW_DAYS before it), or the Idempotency-Key was used for another "
    "request: `detail` says what to do.",
)


class PredictionViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Points-range predictions. POST answers 202 at once; the pipeline runs on the workers."""

    serializer_class = PredictionRequestSerializer
    schema = ApiAutoSchema()
    lookup_value_regex = "[^/]+"  # any id reaches the view, so a malformed one is a JSON 404 too
    permission_classes = [IsAuthenticated]
    parser_classes = [LimitedJSONParser, parsers.FormParser]
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return PredictionRequest.objects.none()
        requests = selectors.visible_requests(self.request.user)
        wanted = self.request.query_params.get("status")
        if self.action == "list" and wanted is not None:
            if wanted not in PredictionRequest.Status.values:  # a typo (or `?status=`) must not list everything
                raise serializers.ValidationError(
                    {"status": [f"must be one of {', '.join(PredictionRequest.Status.values)}."]}
                )
            requests = requests.filter(status=wanted)
        return requests

    def get_serializer_class(self):
        return PredictionInputSerializer if self.action == "create" else PredictionRequestSerializer

    def get_throttles(self):
        if self.action == "create":  # submissions have their own, cheaper per-user limit
            return [AnonRateThrottle(), PredictionSubmitThrottle()]
        return super().get_throttles()

    def initial(self, request, *args, **kwargs):
        refuse_oversized_body(request)
        super().initial(request, *args, **kwargs)
        if request.query_params.get(api_settings.URL_FORMAT_OVERRIDE) == "":  # the schema's enum has no ""
            raise serializers.ValidationError(
                {
                    api_settings.URL_FORMAT_OVERRIDE: [
                        "must not be empty: give a format the endpoint offers, or leave the parameter out."
                    ]
                }
            )

    @extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=PredictionRequest.Status.values)])
    def list(self, request, *args, **kwargs):
        """Your prediction requests, newest first (staff: everyone's)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=PredictionInputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                IDEMPOTENCY_KEY_SCHEMA,
                OpenApiParameter.HEADER,
                description="Same key (per user) returns the same request, queued once.",
            )
        ],
        responses={202: AcceptedSerializer, 400: ERROR_400, 413: DETAIL, 422: ERROR_422, 429: DETAIL},
        examples=[
            OpenApiExample("next game", value={"player": "Luka Doncic"}, request_only=True),
            OpenApiExample(
                "matchup",
                value={"player": "Jayson Tatum", "opponent": "NYK", "date": "2024-03-01", "home": True},
                request_only=True,
            ),
            OpenApiExample(
                "who is out",
                value={"player": "Luka Doncic", "date": "2024-03-15", "out": ["Kyrie Irving", "Dereck Lively II"]},
                request_only=True,
            ),
        ],
    )
    def create(self, request, *args, **kwargs):
        """Ask for a player's points range: stored, queued after commit, answered 202 with the status URL."""
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            key = key.strip(" \t")
            if not key or len(key) > 255:
                return Response({IDEMPOTENCY_HEADER: ["must be 1 to 255 characters."]}, status=400)
        given = PredictionInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            job, _created = submission.submit_prediction(request.user, idempotency_key=key, **given.validated_data)
        except submission.InvalidInput as exc:
            return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
        except submission.NotEnoughData as exc:
            return Response(
                {
                    "detail": str(exc),
                    **{
                        key: value.isoformat() if isinstance(value, dt.date) else value
                        for key, value in exc.facts.items()
                    },
                },
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        except submission.IdempotencyConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        return accepted(request, "prediction", {"id": job.pk, "status": job.status}, replayed=not _created)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Last-Event-ID", OpenApiTypes.INT, OpenApiParameter.HEADER, description="Resume after this event id."
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=SSE_EVENT,
                description="`event: progress` frames (JSON: seq, status, step, step_index, step_count, percent, "
                "message) in order, then one `event: result` with the same JSON as the detail endpoint.",
            )
        },
    )
    @action(detail=True, methods=["get"], renderer_classes=[EventStreamRenderer, renderers.JSONRenderer])
    def events(self, request, pk=None):
        """Server-sent events: the request's progress until it is done, then its result."""
        job = self.get_object()
        context = self.get_serializer_context()

        def render(obj):
            return PredictionRequestSerializer(obj, context=context).data

        try:
            last = parse_last_event_id(request.headers.get("Last-Event-ID", request.query_params.get("last")))
        except ValueError as exc:
            raise serializers.ValidationError({"Last-Event-ID": [str(exc)]}) from None
        response = StreamingHttpResponse(
            event_stream(job.pk, render, last_seq=last), content_type="text/event-stream; charset=utf-8"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
