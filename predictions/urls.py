"""User pages: `/` (sign-in required), `/slates/` and `/slates/<id>/`, `/login/`, `/logout/` (POST)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from predictions import views

urlpatterns = [
    path("", views.home, name="home"),
    path("slates/", views.slates, name="slates"),
    path("slates/<int:pk>/", views.slate, name="slate"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
]
