from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.views import errors, overview, system

urlpatterns = [
    path("", overview.overview, name="home"),
    path("overview/accounts/", overview.overview_accounts, name="overview-accounts"),
    path("overview/ageing/", overview.overview_ageing, name="overview-ageing"),
    path("overview/trend/", overview.overview_trend, name="overview-trend"),
    path("overview/jobs/", overview.overview_jobs, name="overview-jobs"),
    path("overview/drill/", overview.overview_drill, name="overview-drill"),
    path("errors/", errors.error_list, name="error-list"),
    path("errors/count/", errors.error_count, name="error-count"),
    path("errors/export.csv", errors.error_export, name="error-export"),
    path("errors/views/", errors.saved_view_create, name="saved-view-create"),
    path("errors/views/<int:pk>/delete/", errors.saved_view_delete, name="saved-view-delete"),
    path("errors/<int:pk>/", errors.error_detail, name="error-detail"),
    path("errors/<int:pk>/retry-data/", errors.error_retry_data, name="error-retry-data"),
    path("errors/<int:pk>/http-log/", errors.error_http_log, name="error-http-log"),
    path("system/", system.system_status, name="system-status"),
    path("healthz", system.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
