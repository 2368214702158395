"""Website pages for jobs and images: the live job page, the galleries, the image page and its actions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from feedback.selectors import feedback_list_for_image, feedback_of_user, feedback_summary
from generation import selectors, services
from generation.events import job_state_event
from generation.pngs import image_infotext

GALLERY_PAGE_SIZE = 24


def _job_or_404(request, job_id: int):
    job = selectors.job_get_for_user(user=request.user, job_id=job_id)
    if job is None:
        raise Http404("No such job.")
    return job


def _image_or_404(request, image_id: int):
    image = selectors.image_get_for_user(user=request.user, image_id=image_id)
    if image is None:
        raise Http404("No such image.")
    return image


def _owned_image(request, image_id: int):
    image = _image_or_404(request, image_id)
    if image.user_id != request.user.pk:
        raise PermissionDenied("Only the owner can change this image.")
    return image


@login_required
@require_GET
def job_detail(request, job_id: int):
    job = _job_or_404(request, job_id)
    return render(request, "generation/job_detail.html", {"job": job, "state": job_state_event(job)})


@login_required
@require_POST
def job_cancel(request, job_id: int):
    try:
        services.generation_job_cancel(job=_job_or_404(request, job_id))
        messages.info(request, "Cancelling...")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("generation:job_detail", job_id=job_id)


def _gallery(request, *, scope: str, title: str, template_extra: dict):
    query = request.GET.get("q", "")
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
    image = _image_or_404(request, image_id)
    prompt = image.prompt
    parameters = image_infotext(image)
    context = {
        "image": image,
        "prompt": prompt,
        "parameters": parameters,
        "is_owner": image.user_id == request.user.pk,
        "summary": feedback_summary(image=image),
        "comments": feedback_list_for_image(image=image).exclude(comment=""),
        "my_feedback": feedback_of_user(image=image, user=request.user),
        "attention_words": image.attention_words if image.has_attention else [],  # the overlay's word chips
    }
    return render(request, "generation/image_detail.html", context)


@login_required
@require_POST
def image_rerun(request, image_id: int):
    try:
        job = services.generation_image_rerun(image=_image_or_404(request, image_id), user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("generation:image_detail", image_id=image_id)
    messages.success(request, "Re-running with the same seed and settings.")
    return redirect("generation:job_detail", job_id=job.pk)


@login_required
@require_POST
def image_visibility(request, image_id: int):
    image = _owned_image(request, image_id)
    try:
        services.generated_image_set_visibility(image=image, visibility=request.POST.get("visibility", ""))
        messages.success(request, f"The image is now {image.visibility}.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("generation:image_detail", image_id=image_id)


@login_required
@require_POST
def image_delete(request, image_id: int):
    services.generated_image_delete(image=_owned_image(request, image_id))
    messages.success(request, "Image deleted.")
    return redirect("generation:my_images")
