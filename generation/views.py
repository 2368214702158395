"""Website pages for jobs and images: the create page, the live job page, the galleries, the image page and its
actions. The image page's ratings are the feedback app's to render (its `feedback_panel` tag)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation import selectors, services
from generation.events import job_state_event
from generation.fair_share import job_queue_position
from generation.forms import JobCreateForm
from generation.lookups import image_or_404, job_or_404, owned_image_or_403
from generation.pngs import image_infotext
from generation.quotas import QuotaExceeded
from modelops.selectors import model_version_list

GALLERY_PAGE_SIZE = 24


@require_http_methods(["GET", "POST"])
def create(request):
    """The front door: a landing page for visitors; for users, the prompt form, where their job is made."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect("accounts:login")
        showcase = selectors.image_search(user=request.user, scope="public")[:12]
        return render(request, "generation/landing.html", {"showcase": showcase})

    versions = model_version_list()
    prefill = {
        key: request.GET[key]
        for key in ("prompt", "negative_prompt", "seed", "steps", "guidance")
        if key in request.GET
    }
    form = JobCreateForm(request.POST or None, versions=versions, initial=prefill)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            job = services.generation_job_submit(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        except QuotaExceeded as refusal:
            form.add_error(None, refusal.message)
            status = 429
        else:
            messages.success(request, "Queued. Watch it paint below.")
            return redirect("generation:job_detail", job_id=job.pk)
    recent_jobs = selectors.job_list_for_user(user=request.user)[:6]
    context = {"form": form, "recent_jobs": recent_jobs, "versions": versions}
    return render(request, "generation/create.html", context, status=status)


@login_required
@require_GET
def job_detail(request, job_id: int):
    job = job_or_404(user=request.user, job_id=job_id)
    context = {"job": job, "state": job_state_event(job), "queue_position": job_queue_position(job=job)}
    return render(request, "generation/job_detail.html", context)


@login_required
@require_POST
def job_cancel(request, job_id: int):
    try:
        services.generation_job_cancel(job=job_or_404(user=request.user, job_id=job_id))
        messages.info(request, "Cancelling...")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("generation:job_detail", job_id=job_id)


def _gallery(request, *, scope: str, title: str, template_extra: dict):
    query = request.GET.get("q", "")[: selectors.SEARCH_MAX_LENGTH]  # the search box holds no more (maxlength)
    images = selectors.image_search(user=request.user, scope=scope, query=query)
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "title": title, "scope": scope, **template_extra}
    return render(request, "generation/gallery.html", context)


@login_required
@require_GET
def my_images(request):
    return _gallery(request, scope="mine", title="My images", template_extra={})


@require_GET
def public_gallery(request):
    return _gallery(request, scope="public", title="Explore", template_extra={})


@require_GET
def image_detail(request, image_id: int):
    image = image_or_404(user=request.user, image_id=image_id)
    prompt = image.prompt
    parameters = image_infotext(image)
    context = {
        "image": image,
        "prompt": prompt,
        "parameters": parameters,
        "is_owner": image.user_id == request.user.pk,
        "attention_words": image.attention_words if image.has_attention else [],  # the overlay's word chips
    }
    return render(request, "generation/image_detail.html", context)


@login_required
@require_POST
def image_rerun(request, image_id: int):
    try:
        job = services.generation_image_rerun(
            image=image_or_404(user=request.user, image_id=image_id), user=request.user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("generation:image_detail", image_id=image_id)
    messages.success(request, "Re-running with the same seed and settings.")
    return redirect("generation:job_detail", job_id=job.pk)


@login_required
@require_POST
def image_visibility(request, image_id: int):
    image = owned_image_or_403(user=request.user, image_id=image_id)
    try:
        services.generated_image_set_visibility(image=image, visibility=request.POST.get("visibility", ""))
        messages.success(request, f"The image is now {image.visibility}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("generation:image_detail", image_id=image_id)


@login_required
@require_POST
def image_delete(request, image_id: int):
    services.generated_image_delete(image=owned_image_or_403(user=request.user, image_id=image_id))
    messages.success(request, "Image deleted.")
    return redirect("generation:my_images")
