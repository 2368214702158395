"""Error pages: JSON under /api/ (clients parse it; the schema documents it), plain pages elsewhere.

Django answers a URL that matches no route before any view runs, so the API's own 404s for a path like
/api/images/abc/ come from here. Nothing about the error's cause reaches the client; the log has it.
"""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.defaults import permission_denied as default_permission_denied

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return default_permission_denied(request, exception)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return render(request, "400.html", status=400)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged."}, status=500)
    return render(request, "500.html", status=500)
