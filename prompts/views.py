"""The create page: a landing page for visitors, the prompt form and recent jobs for signed-in users."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from generation.selectors import image_search, job_list_for_user
from generation.services import generation_job_submit
from modelops.selectors import model_version_list
from prompts.forms import PromptForm


@require_http_methods(["GET", "POST"])
def create(request):
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect("accounts:login")
        showcase = image_search(user=request.user, scope="public")[:12]
        return render(request, "prompts/landing.html", {"showcase": showcase})

    versions = model_version_list()
    prefill = {
        key: request.GET[key]
        for key in ("prompt", "negative_prompt", "seed", "steps", "guidance")
        if key in request.GET
    }
    form = PromptForm(request.POST or None, versions=versions, initial=prefill)
    if request.method == "POST" and form.is_valid():
        try:
            job = generation_job_submit(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, "Queued. Watch it paint below.")
            return redirect("generation:job_detail", job_id=job.pk)
    recent_jobs = job_list_for_user(user=request.user)[:6]
    return render(request, "prompts/create.html", {"form": form, "recent_jobs": recent_jobs, "versions": versions})
