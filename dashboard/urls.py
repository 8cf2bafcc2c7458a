from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.views import actions, errors, overview, system

urlpatterns = [
    path("", overview.overview, name="home"),
    path("overview/accounts/", overview.overview_accounts, name="overview-accounts"),
    path("overview/ageing/", overview.overview_ageing, name="overview-ageing"),
    path("overview/trend/", overview.overview_trend, name="overview-trend"),
    path("overview/teams/", overview.overview_teams, name="overview-teams"),
    path("overview/jobs/", overview.overview_jobs, name="overview-jobs"),
    path("overview/drill/", overview.overview_drill, name="overview-drill"),
    path("errors/", errors.error_list, name="error-list"),
    path("errors/count/", errors.error_count, name="error-count"),
    path("errors/export.csv", errors.error_export, name="error-export"),
    path("errors/views/", errors.saved_view_create, name="saved-view-create"),
    path("errors/views/<int:pk>/delete/", errors.saved_view_delete, name="saved-view-delete"),
    path("errors/actions/", actions.bulk_action, name="error-bulk-action"),
    path("errors/<int:pk>/", errors.error_detail, name="error-detail"),
    path("errors/<int:pk>/actions/", actions.error_action, name="error-action"),
    path("errors/<int:pk>/retry-data/", errors.error_retry_data, name="error-retry-data"),
    path("errors/<int:pk>/retry-data/review/", actions.retry_data_review, name="error-retry-data-review"),
    path("errors/<int:pk>/retry-data/save/", actions.retry_data_save, name="error-retry-data-save"),
    path("errors/<int:pk>/http-log/", errors.error_http_log, name="error-http-log"),
    path("actions/", actions.batch_list, name="batch-list"),
    path("actions/<int:pk>/", actions.batch_detail, name="batch-detail"),
    path("actions/<int:pk>/progress/", actions.batch_progress, name="batch-progress"),
    path("actions/<int:pk>/cancel/", actions.batch_cancel, name="batch-cancel"),
    path("system/", system.system_status, name="system-status"),
    path("healthz", system.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
