"""The user page: ask for a prediction, watch it progress, see the range beside recent games."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from etl.models import Team


@login_required(login_url="login")
@ensure_csrf_cookie
def home(request):
    return render(request, "predictions/home.html", {"teams": Team.objects.order_by("name")})
