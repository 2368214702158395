"""Website pages for jobs and images: the create page, the live job page, the galleries, the image page and its
actions. The image page's ratings are the feedback app's to render (its `feedback_panel` tag)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generation import selectors, services
from generation.batching import batch_room
from generation.events import job_state_event
from generation.fair_share import job_queue_position
from generation.forms import JobCreateForm
from generation.lookups import image_or_404, job_or_404, owned_image_or_403
from generation.pngs import image_infotext
from generation.quotas import QuotaExceeded
from modelops.selectors import model_version_list
from prompts.selectors import prompt_unknown_words, prompt_warnings
from prompts.services import model_version_for_request

GALLERY_PAGE_SIZE = 24


PREFILL_KEYS = ("prompt", "negative_prompt", "seed", "steps", "guidance", "size", "num_images", "model", "sampler")


@require_http_methods(["GET", "POST"])
def create(request):
    """The front door: a landing page for visitors; for users, the prompt form, where their job is made. A prompt
    with words the model never read is shown back with those words named, once, before anyone waits for it."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect("accounts:login")
        return render(request, "generation/landing.html", _landing_context(request))

    versions = model_version_list()
    prefill = {key: request.GET[key] for key in PREFILL_KEYS if key in request.GET}
    form = JobCreateForm(request.POST or None, versions=versions, initial=prefill)
    status, warnings = 200, []
    if request.method == "POST" and form.is_valid():
        try:
            warnings = _unconfirmed_warnings(form)
            job = None if warnings else services.generation_job_submit(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            form.add_service_errors(error)
        except QuotaExceeded as refusal:
            form.add_error(None, refusal.message)
            status = 429
        else:
            if job is not None:
                messages.success(request, "Queued. Watch it paint below.")
                return redirect("generation:job_detail", job_id=job.pk)
    context = {
        "form": form,
        "warnings": warnings,
        "recent_jobs": selectors.job_list_for_user(user=request.user)[:8],
        "versions": versions,
        "guide": _guide(versions),
    }
    return render(request, "generation/create.html", context, status=status)


def _unconfirmed_warnings(form: JobCreateForm) -> list[str]:
    """Warnings about words the model does not know that the person has not yet seen; once shown, the form carries
    the words, and a second submit of the same words generates."""
    data = form.cleaned_data
    version = model_version_for_request(model=data["model"] or None)
    words = prompt_unknown_words(text=f"{data['prompt']} {data['negative_prompt']}", version=version)
    if set(words) <= form.confirmed:
        return []
    form.data = form.data.copy()
    form.data["confirmed_words"] = " ".join(words)
    return prompt_warnings(text=data["prompt"], negative_prompt=data["negative_prompt"], version=version)


def _guide(versions) -> dict | None:
    """The prompt guide's chips and examples: the champion's words (none for an open vocabulary)."""
    current = next((v for v in versions if v.is_current), versions[0] if versions else None)
    if current is None or not current.vocabulary:
        return None
    groups = {name: phrases for name, phrases in current.vocabulary.items() if name not in ("other", "examples")}
    return {"model": current.version_name, "groups": groups, "examples": current.vocabulary.get("examples", [])}


def _landing_context(request) -> dict:
    """Visitors see what the model draws well: shared images whose prompts it can read lead the strip."""
    recent = selectors.image_search(user=request.user, scope="public")[:48]
    # readable prompts first, newest first within each (the sort is stable)
    showcase = sorted(
        recent,
        key=lambda image: bool(prompt_unknown_words(text=image.prompt.text_content, version=image.model_version)),
    )[:12]
    return {"showcase": showcase, "guide": _guide(list(model_version_list()))}


@login_required
@require_GET
def job_detail(request, job_id: int):
    job = job_or_404(user=request.user, job_id=job_id)
    context = {
        "job": job,
        "images": sorted(job.images.all(), key=lambda image: image.index),
        "state": job_state_event(job),
        "queue_position": job_queue_position(job=job),
        "batch_images": batch_room(),  # the page's script says which images a step is drawing
        "variations": services.VARIATIONS,
    }
    return render(request, "generation/job_detail.html", context)


@login_required
@require_POST
def job_cancel(request, job_id: int):
    try:
        job = services.generation_job_cancel(job=job_or_404(user=request.user, job_id=job_id))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if not job.is_finished:  # a queued job is cancelled at once, and the page says so itself
            messages.info(request, "Stopping at the next step.")
    return redirect("generation:job_detail", job_id=job_id)


GALLERY_SORTS = {  # selectors.IMAGE_SORTS, as the gallery's menu says them
    "newest": "Newest",
    "alignment": "Best match to the prompt",
    "realism": "Most realistic",
    "rating": "Best rated",
}


def _gallery(request, *, scope: str, title: str, template_extra: dict):
    query = request.GET.get("q", "")[: selectors.SEARCH_MAX_LENGTH]  # the search box holds no more (maxlength)
    sort = request.GET.get("sort", "newest")
    sort = sort if sort in selectors.IMAGE_SORTS else "newest"  # an old or hand-made link still shows the gallery
    images = selectors.image_search(user=request.user, scope=scope, query=query, sort=sort)
    page = Paginator(images, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "query": query,
        "sort": sort,
        "sorts": GALLERY_SORTS,
        "title": title,
        "scope": scope,
        **template_extra,
    }
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
        "variations": services.VARIATIONS,
    }
    return render(request, "generation/image_detail.html", context)


def _back(request, *, image_id: int):
    """Where a refused action returns: the page it was asked from (the job page or the image page)."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("generation:image_detail", image_id=image_id)


def _queued_from_image(request, start):
    """The job that `start` (a service queuing a job from an image) returns, or None with the refusal's reason as a
    message."""
    try:
        return start()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except QuotaExceeded as refusal:
        messages.error(request, refusal.message)
    return None


@login_required
@require_POST
def image_rerun(request, image_id: int):
    new_seed = request.POST.get("seed") == "new"
    image = image_or_404(user=request.user, image_id=image_id)
    job = _queued_from_image(
        request, lambda: services.generation_image_rerun(image=image, user=request.user, new_seed=new_seed)
    )
    if job is None:
        return _back(request, image_id=image_id)
    if new_seed:
        messages.success(request, f"Re-running with a new seed ({job.prompt.seed}): the same settings, a new picture.")
    else:
        messages.success(request, "Re-running with the same seed and settings: the same picture, pixel for pixel.")
    return redirect("generation:job_detail", job_id=job.pk)


@login_required
@require_POST
def image_vary(request, image_id: int):
    image = image_or_404(user=request.user, image_id=image_id)
    job = _queued_from_image(request, lambda: services.generation_image_vary_seed(image=image, user=request.user))
    if job is None:
        return _back(request, image_id=image_id)
    last = job.prompt.seed + job.prompt.num_images - 1
    messages.success(request, f"Drawing seeds {job.prompt.seed}-{last}: the same settings, neighbouring seeds.")
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
