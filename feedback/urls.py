from django.urls import path

from feedback import apis, views

urlpatterns = [
    path("images/<int:image_id>/feedback/", views.feedback_create, name="create"),
]

api_urlpatterns = [
    path("images/<int:image_id>/feedback/", apis.FeedbackApi.as_view(), name="image-feedback"),
]
