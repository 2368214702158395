from django.urls import path

from modelops import apis

urlpatterns = []

api_urlpatterns = [
    path("models/", apis.ModelVersionListApi.as_view(), name="model-list"),
]
