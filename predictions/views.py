"""The user pages: ask for a prediction, watch it progress, see the range beside recent games; and
the slate view: a night's games, each expected player's range, sortable and filterable."""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from etl.models import Team
from predictions import slate_services
from predictions.dates import NotADate, parse_iso_date, product_today
from predictions.selectors import describe_serving, serving_models
from predictions.slate_models import Slate
from predictions.who_is_out import OutListError, max_out_players, split_names


@login_required(login_url="login")
@ensure_csrf_cookie
def home(request):
    serving = serving_models()
    return render(
        request,
        "predictions/home.html",
        {
            "teams": Team.objects.order_by("name"),
            "serving": serving,
            "serving_text": describe_serving(serving),
            "max_out_players": max_out_players(),
        },
    )


@login_required(login_url="login")
@ensure_csrf_cookie
def slates(request):
    """The slate form (a day, default the product's today; who is out, optional) and the latest
    slates. POST asks for the day's slate through the same service as `POST /api/v1/slates/` (the
    existing one when it was asked before), then shows it. An empty "who is out" is no list (not known)."""
    day_text = (request.POST.get("date") or request.GET.get("date") or "").strip() or product_today().isoformat()
    out_text = request.POST.get("out", "").strip()
    error, status = None, 200
    if request.method == "POST":
        try:
            slate, _ = slate_services.submit_slate(
                request.user, parse_iso_date(day_text), out=split_names(out_text) or None
            )
            return redirect("slate", pk=slate.pk)
        except NotADate as exc:
            error, status = str(exc), 400
        except OutListError as exc:
            error, status = f"Who is out: {exc}", 400
        except slate_services.SlateRefused as exc:
            error, status = str(exc), 422
    return render(
        request,
        "predictions/slates.html",
        {
            "day": day_text,
            "out_text": out_text,
            "error": error,
            "recent": _recent(),
            "max_out_players": max_out_players(),
        },
        status=status,
    )


@login_required(login_url="login")
@ensure_csrf_cookie
def slate(request, pk: int):
    """One slate: its live progress until done, then each game with its players' range bars."""
    shown = get_object_or_404(Slate, pk=pk)
    context = {
        "slate": shown,
        "day": shown.date.isoformat(),
        "recent": _recent(),
        "events_url": reverse("slate-events", args=[shown.pk]),
        "max_out_players": max_out_players(),
        "out_text": ", ".join(entry["name"] for entry in shown.out_players or []),
    }
    if shown.status == Slate.Status.SUCCEEDED:
        context.update(slate_board(shown))
    return render(request, "predictions/slate.html", context)


def _recent():
    return Slate.objects.order_by("-created_at")[:8]


def slate_board(shown: Slate) -> dict:
    """What the slate template draws: per game its players with the bar's positions (percent of a
    common points scale), the teams for the filter, the night's coverage counts and the scale's ticks."""
    games = [game for game in slate_services.slate_games(shown) if game["players"]]
    top = max(
        [p["p90"] for g in games for p in g["players"]] + [p["actual"] or 0 for g in games for p in g["players"]] + [10]
    )
    scale = math.ceil(top / 10) * 10

    def at(points: float) -> float:
        return round(100 * max(0.0, min(points, scale)) / scale, 2)

    played = inside = 0
    for game in games:
        game["played"] = sum(p["actual"] is not None for p in game["players"])
        game["inside"] = sum(bool(p["inside"]) for p in game["players"])
        played, inside = played + game["played"], inside + game["inside"]
        for player in game["players"]:
            player["left"], player["mid"] = at(player["p10"]), at(player["p50"])
            player["width"] = round(at(player["p90"]) - player["left"], 2)
            player["at_actual"] = None if player["actual"] is None else at(player["actual"])
    teams = sorted({p["team"] for g in games for p in g["players"]})
    ticks = [{"points": points, "at": at(points)} for points in range(0, scale + 1, 10)]
    return {
        "games": games,
        "teams": teams,
        "ticks": ticks,
        "played": played,
        "inside": inside,
        "coverage_percent": None if shown.coverage_80 is None else round(100 * shown.coverage_80),
    }
