"""OpenAI's Images API, for the `openai` package and everything built on it:

    POST /v1/images/generations {"prompt", "model"?, "n"?, "size"? "WxH", "response_format"? "url"|"b64_json", "user"?}
    GET  /v1/models, /v1/models/<id>

`Authorization: Bearer <API key>` (a key from POST /api/auth/token/ or the account page). A generation is an
ordinary job of the caller's (gallery, quotas, fair share) that the request waits for. Answers and errors have
OpenAI's shapes: {"created", "data": [{"b64_json"} | {"url"}]}, {"error": {"message", "type", "param", "code"}}. A
`url` is this server's, signed and valid for URL_TTL_S (an hour, as OpenAI's), so it works in an <img> without a
key. Beyond OpenAI's fields a request may carry the studio's own (`negative_prompt`, `seed`, `steps`, `guidance`,
`sampler`), e.g. through the client's `extra_body`.
"""

from __future__ import annotations

import base64
import time

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from django.urls import reverse
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from compat.errors import JobNotFinished, openai_exception_handler
from compat.selectors import job_image_files, job_wait_finished, served_models
from generation import services as generation_services
from generation.models import GeneratedImage, GenerationJob
from modelops.selectors import model_version_get
from prompts.models import PROMPT_MAX_LENGTH
from prompts.services import GUIDANCE_RANGE, NUM_IMAGES_RANGE, SEED_MAX, STEPS_RANGE

URL_TTL_S = 3600
_URL_SALT = "compat.openai.image-url"
# OpenAI's fields that the studio takes only at these values: what it does anyway
_FIXED = {
    "quality": {"auto", "standard"},
    "output_format": {"png"},
    "background": {"auto", "opaque"},
    "moderation": {"auto", "low"},
}


class OpenAIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    schema = None  # OpenAI publishes this API's schema; the studio's own (/api/schema/) covers /api/ only

    def get_exception_handler(self):
        return openai_exception_handler

    def get_authenticate_header(self, request):
        return 'Bearer realm="studio"'


def _model_object(version) -> dict:
    return {
        "id": version.version_name,
        "object": "model",
        "created": int(version.created_at.timestamp()),
        "owned_by": "studio",
    }


class ModelListApi(OpenAIView):
    def get(self, request):
        return Response({"object": "list", "data": [_model_object(v) for v in served_models()]})


class ModelDetailApi(OpenAIView):
    def get(self, request, model_id: str):
        version = model_version_get(version_name=model_id)
        if version is None:
            raise exceptions.NotFound(f"The model '{model_id}' does not exist")
        return Response(_model_object(version))


class GenerationInputSerializer(serializers.Serializer):
    prompt = serializers.CharField(max_length=PROMPT_MAX_LENGTH, trim_whitespace=False)
    model = serializers.CharField(required=False, allow_null=True)
    n = serializers.IntegerField(
        required=False, allow_null=True, min_value=NUM_IMAGES_RANGE[0], max_value=NUM_IMAGES_RANGE[1]
    )
    size = serializers.RegexField(r"^(\d{1,5}x\d{1,5}|auto)$", required=False, allow_null=True)
    response_format = serializers.ChoiceField(choices=["url", "b64_json"], required=False, allow_null=True)
    user = serializers.CharField(required=False, allow_blank=True, max_length=256)
    quality = serializers.CharField(required=False, allow_null=True)
    output_format = serializers.CharField(required=False, allow_null=True)
    background = serializers.CharField(required=False, allow_null=True)
    moderation = serializers.CharField(required=False, allow_null=True)
    style = serializers.CharField(required=False, allow_null=True)
    # the studio's own, beyond OpenAI's
    negative_prompt = serializers.CharField(required=False, allow_blank=True, max_length=PROMPT_MAX_LENGTH)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=SEED_MAX)
    steps = serializers.IntegerField(required=False, min_value=STEPS_RANGE[0], max_value=STEPS_RANGE[1])
    guidance = serializers.FloatField(required=False, min_value=GUIDANCE_RANGE[0], max_value=GUIDANCE_RANGE[1])
    sampler = serializers.CharField(required=False, max_length=40)

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:  # OpenAI's own words for it
                raise exceptions.ValidationError(
                    {unknown[0]: [f"Unrecognized request argument supplied: {unknown[0]}"]}
                )
        return super().to_internal_value(data)

    def validate(self, attrs):
        for field, allowed in _FIXED.items():
            if attrs.get(field) not in (None, *allowed):
                raise exceptions.ValidationError(
                    {field: [f"the studio supports {field} {' or '.join(sorted(allowed))}; got {attrs[field]!r}"]}
                )
        if attrs.get("style") is not None:
            raise exceptions.ValidationError({"style": ["the studio's models have no style setting"]})
        if not attrs["prompt"].strip():
            raise exceptions.ValidationError({"prompt": ["must not be empty"]})
        return attrs


def _size(value: str | None) -> tuple[int | None, int | None]:
    if value in (None, "auto"):
        return None, None
    width, height = value.split("x")
    return int(width), int(height)


def image_signed_url(request, image: GeneratedImage) -> str:
    token = signing.TimestampSigner(salt=_URL_SALT).sign(str(image.pk))
    return request.build_absolute_uri(reverse("compat:openai-image-file", args=[token]))


class ImageGenerationApi(OpenAIView):
    def post(self, request):
        serializer = GenerationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        width, height = _size(data.get("size"))
        try:
            job = generation_services.generation_job_submit(
                user=request.user,
                text=data["prompt"],
                negative_prompt=data.get("negative_prompt", ""),
                seed=data.get("seed"),
                steps=data.get("steps"),
                guidance=data.get("guidance"),
                width=width,
                height=height,
                num_images=data.get("n") or 1,
                model=data.get("model") or None,
                sampler=data.get("sampler"),
            )
        except DjangoValidationError as error:
            raise _openai_names(error) from error
        job = job_wait_finished(job_id=job.pk)
        if job.status != GenerationJob.Status.SUCCEEDED:
            raise JobNotFinished(job)
        images = sorted(job.images.all(), key=lambda image: image.index)
        if (data.get("response_format") or "url") == "b64_json":
            items = [{"b64_json": base64.b64encode(png).decode("ascii")} for png in job_image_files(job)]
        else:
            items = [{"url": image_signed_url(request, image)} for image in images]
        size = f"{job.prompt.width}x{job.prompt.height}"
        return Response({"created": int(time.time()), "data": items, "output_format": "png", "size": size})


def _openai_names(error: DjangoValidationError) -> DjangoValidationError:
    """The job service's field names as OpenAI's request names them."""
    names = {"num_images": "n", "width": "size", "height": "size", "text": "prompt"}
    if not hasattr(error, "error_dict"):
        return error
    return DjangoValidationError({names.get(field, field): messages for field, messages in error.error_dict.items()})


class SignedImageFileApi(APIView):
    """The PNG behind a `url` answer, for whoever holds the link until it expires."""

    authentication_classes = []
    permission_classes = [AllowAny]
    schema = None

    def get_exception_handler(self):
        return openai_exception_handler

    def get(self, request, token: str):
        try:
            image_id = int(signing.TimestampSigner(salt=_URL_SALT).unsign(token, max_age=URL_TTL_S))
        except signing.SignatureExpired:
            raise exceptions.PermissionDenied("This image link has expired; ask for the image again.") from None
        except (signing.BadSignature, ValueError):
            raise exceptions.NotFound("No such image.") from None
        image = GeneratedImage.objects.filter(pk=image_id).first()
        if image is None:  # deleted since
            raise exceptions.NotFound("No such image.")
        return FileResponse(image.file.open("rb"), content_type="image/png", filename=f"t2i-{image.pk}.png")
