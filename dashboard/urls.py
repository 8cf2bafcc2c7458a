from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.views import system

urlpatterns = [
    path("", system.system_status, name="home"),
    path("system/", system.system_status, name="system-status"),
    path("healthz", system.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
