"""modelops pages: the staff model page (versions, metrics, ratings, A/B results, promote, rollback, changes)
and the blind A/B arena for signed-in users. Thin: each view calls one selector or service."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from modelops import selectors, services
from modelops.events import arena_state_event
from modelops.forms import ModelFolderForm
from modelops.models import ArenaMatch


def staff_required(view):
    """Signed-in non-staff get 403 (not a redirect: they are signed in, just not allowed); anonymous sign in."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied(
                "The model pages are for the studio's staff. An admin can give your account staff access."
            )
        return view(request, *args, **kwargs)

    return wrapped


def _version_or_404(version_id: int):
    version = selectors.model_version_get_by_id(version_id=version_id)
    if version is None:
        raise Http404("No such model version.")
    return version


def _dashboard(request, register_form: ModelFolderForm | None = None, status: int = 200):
    context = {
        "versions": selectors.model_version_rated_list(),
        "changes": selectors.model_change_list(),
        "arena": selectors.arena_results(),
        "register_form": register_form or ModelFolderForm(),
    }
    return render(request, "modelops/dashboard.html", context, status=status)


@staff_required
@require_GET
def dashboard(request):
    return _dashboard(request)


@staff_required
@require_POST
def version_register(request):
    """A model folder on the server becomes a new registry version (no alias); errors come back in the form."""
    form = ModelFolderForm(request.POST)
    if form.is_valid():
        try:
            version = services.model_version_register_folder(**form.cleaned_data, actor=request.user)
        except ValidationError as error:
            form.add_error(None, error)  # a dict of field -> message lands on those fields
        else:
            messages.success(
                request, f"Registered {version} as registry version {version.registry_version}: evaluate, then promote."
            )
            return redirect("modelops:dashboard")
    return _dashboard(request, register_form=form, status=400)


@staff_required
@require_POST
def version_promote(request, version_id: int):
    version = _version_or_404(version_id)
    try:
        services.model_version_promote(
            version=version,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            force=request.POST.get("force") == "on",
        )
        messages.success(request, f"{version} is now the champion.")
    except services.PromotionRefused as refused:
        failing = ", ".join(refused.gate.failing)
        messages.error(request, f"Refused by the evaluation gate ({failing}). Force it with a written reason.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("modelops:dashboard")


@staff_required
@require_POST
def rollback(request):
    try:
        change = services.model_version_rollback(actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, f"Rolled back: {change.to_version} is the champion again.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("modelops:dashboard")


@staff_required
@require_POST
def version_evaluate(request, version_id: int):
    version = _version_or_404(version_id)
    services.model_version_evaluation_request(version=version)
    messages.info(request, f"Evaluation of {version} queued on the workers.")
    return redirect("modelops:dashboard")


@staff_required
@require_POST
def sync(request):
    created = services.model_version_sync(actor=request.user)
    messages.info(request, f"Synced with the registry: {len(created)} new version(s).")
    return redirect("modelops:dashboard")


# The arena -------------------------------------------------------------------------------------------
def _arena_page(request, match: ArenaMatch | None, **context):
    state = arena_state_event(match) if match is not None else None
    return render(request, "modelops/arena.html", {"match": match, "state": state, **context})


@login_required
@require_GET
def arena(request):
    """The open match, if any; a GET never starts work on the workers (the start button POSTs)."""
    return _arena_page(request, selectors.arena_match_open_for(user=request.user))


@login_required
@require_POST
def arena_match_start(request):
    if selectors.arena_match_open_for(user=request.user) is None:
        try:
            services.arena_match_create(user=request.user)
        except ValidationError as error:
            return _arena_page(request, None, unavailable=" ".join(error.messages))
    return redirect("arena:arena")


def _match_or_404(request, match_id: int) -> ArenaMatch:
    match = selectors.arena_match_get(match_id=match_id, user=request.user)
    if match is None:
        raise Http404("No such match.")
    return match


@login_required
@require_GET
def arena_match(request, match_id: int):
    """A voted match, with the models named; one still open is judged blind on the arena page."""
    match = _match_or_404(request, match_id)
    if match.status != ArenaMatch.Status.VOTED:
        return redirect("arena:arena")
    return _arena_page(request, match, reveal=selectors.arena_match_reveal(match=match))


@login_required
@require_GET
def arena_match_state(request, match_id: int):
    """The match's state as its socket would send it: the page's fallback when WebSockets are blocked."""
    return JsonResponse(arena_state_event(_match_or_404(request, match_id)))


@login_required
@require_POST
def arena_vote(request, match_id: int):
    match = _match_or_404(request, match_id)
    try:
        services.arena_vote_record(match=match, user=request.user, choice=request.POST.get("choice", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("arena:arena")
    return redirect("arena:arena_match", match.pk)


@login_required
@require_GET
def arena_image(request, match_id: int, side: str):
    match = selectors.arena_match_get(match_id=match_id, user=request.user)
    if (
        match is None
        or side not in ("a", "b")
        or match.status not in (ArenaMatch.Status.READY, ArenaMatch.Status.VOTED)
    ):
        raise Http404("No such image.")
    file = match.left_image if side == "a" else match.right_image
    return FileResponse(file.open("rb"), content_type="image/png")
