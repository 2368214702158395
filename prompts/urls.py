from django.urls import path

from prompts import views

urlpatterns = [
    path("", views.create, name="create"),
]

api_urlpatterns = []  # prompts are created through POST /api/jobs/ (generation)
