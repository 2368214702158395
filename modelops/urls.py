from django.urls import path

from modelops import apis, views

urlpatterns = [
    path("modelops/", views.dashboard, name="dashboard"),
    path("modelops/versions/<int:version_id>/promote/", views.version_promote, name="version_promote"),
    path("modelops/versions/<int:version_id>/evaluate/", views.version_evaluate, name="version_evaluate"),
    path("modelops/rollback/", views.rollback, name="rollback"),
    path("modelops/sync/", views.sync, name="sync"),
    path("modelops/register/", views.version_register, name="version_register"),
]

arena_urlpatterns = [
    path("arena/", views.arena, name="arena"),
    path("arena/start/", views.arena_match_start, name="arena_start"),
    path("arena/<int:match_id>/", views.arena_match, name="arena_match"),
    path("arena/<int:match_id>/state/", views.arena_match_state, name="arena_match_state"),
    path("arena/<int:match_id>/vote/", views.arena_vote, name="arena_vote"),
    path("arena/<int:match_id>/<str:side>.png", views.arena_image, name="arena_image"),
]

api_urlpatterns = [
    path("models/", apis.ModelVersionListApi.as_view(), name="model-list"),
    path("models/changes/", apis.ModelChangeListApi.as_view(), name="model-changes"),
    path("models/rollback/", apis.ModelVersionRollbackApi.as_view(), name="model-rollback"),
    path("models/<int:version_id>/promote/", apis.ModelVersionPromoteApi.as_view(), name="model-promote"),
    path("models/<int:version_id>/evaluate/", apis.ModelVersionEvaluateApi.as_view(), name="model-evaluate"),
]
