"""`/healthz`: a cheap liveness/readiness probe for load balancers and `make run`."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception as exc:  # the probe reports, it never raises
        database = f"error: {exc.__class__.__name__}"
    status = 200 if database == "ok" else 503
    return JsonResponse({"status": "ok" if status == 200 else "degraded", "database": database}, status=status)


urlpatterns = [path("", healthz, name="healthz")]
