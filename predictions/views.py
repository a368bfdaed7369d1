"""The user page: ask for a prediction, watch it progress, see the range beside recent games."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from etl.models import Team
from predictions.selectors import describe_serving, serving_models
from predictions.who_is_out import max_out_players


@login_required(login_url="login")
@ensure_csrf_cookie
def home(request):
    serving = serving_models()
    return render(request, "predictions/home.html", {"teams": Team.objects.order_by("name"), "serving": serving,
                                                     "serving_text": describe_serving(serving),
                                                     "max_out_players": max_out_players()})
