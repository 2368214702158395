"""The rating form on the image page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from feedback.services import feedback_submit
from generation.lookups import image_or_404


@login_required
@require_POST
def feedback_create(request, image_id: int):
    image = image_or_404(user=request.user, image_id=image_id)
    try:
        rating = int(request.POST.get("rating", ""))
    except ValueError:
        messages.error(request, "Pick a rating from 1 to 5.")
        return redirect("generation:image_detail", image_id=image_id)
    try:
        feedback_submit(user=request.user, image=image, rating=rating, comment=request.POST.get("comment", ""))
        messages.success(request, "Thanks for the feedback!")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("generation:image_detail", image_id=image_id)
