"""URL map: website pages, the REST API under /api/, its OpenAPI schema and Swagger UI, the admin, and the
client-compatible APIs (OpenAI's under /v1/, AUTOMATIC1111's under /sdapi/v1/).

Each app's urls.py holds `urlpatterns` (pages) and `api_urlpatterns` (REST), mounted here.
"""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import urls as accounts_urls
from compat import urls as compat_urls
from feedback import urls as feedback_urls
from generation import urls as generation_urls
from modelops import urls as modelops_urls

api_patterns = [
    path("auth/", include(accounts_urls.api_urlpatterns)),
    path("", include(generation_urls.api_urlpatterns)),
    path("", include(feedback_urls.api_urlpatterns)),
    path("", include(modelops_urls.api_urlpatterns)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    # the APIs of the clients integrators already have: OpenAI's Images API and AUTOMATIC1111's
    path("v1/", include((compat_urls.openai_urlpatterns, "compat"), namespace="compat")),
    path("sdapi/v1/", include((compat_urls.a1111_urlpatterns, "a1111"))),
    path("api/", include((api_patterns, "api"))),
    path("accounts/", include((accounts_urls.urlpatterns, "accounts"))),
    path("", include((generation_urls.urlpatterns, "generation"))),
    path("", include((feedback_urls.urlpatterns, "feedback"))),
    path("", include((modelops_urls.urlpatterns, "modelops"))),
    path("", include((modelops_urls.arena_urlpatterns, "arena"))),
]

handler400 = "t2i_site.errors.bad_request"
handler403 = "t2i_site.errors.permission_denied"
handler404 = "t2i_site.errors.not_found"
handler500 = "t2i_site.errors.server_error"
