"""REST API for jobs and images: validate with a serializer, call one service or selector, serialize.

/api/jobs/ (GET mine, POST submit), /api/jobs/<id>/, /api/jobs/<id>/cancel/,
/api/images/?scope=mine|public&q=, /api/images/<id>/ (GET, PATCH visibility, DELETE), /api/images/<id>/file/,
/api/images/<id>/attention/ (the per-word attention maps, when the model made them).
Private images and every job are 404 to anyone but their owner.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from generation import selectors, services
from generation.events import image_payload, job_images_payload
from generation.fair_share import job_queue_position
from generation.lookups import image_or_404, job_or_404, owned_image_or_403
from generation.models import GenerationJob, Visibility
from modelops.selectors import model_version_list
from prompts.models import PROMPT_MAX_LENGTH
from prompts.selectors import prompt_unknown_words, prompt_warnings
from prompts.services import GUIDANCE_RANGE, NUM_IMAGES_RANGE, SEED_MAX, STEPS_RANGE
from t2i_site.api import NON_BLANK_TEXT, StrictPageNumberPagination, StrictSerializer, conflict_from, query_values


class ImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    job = serializers.IntegerField(source="job_id")
    owner = serializers.CharField(source="user.username")
    prompt = serializers.CharField(source="prompt.text_content")
    negative_prompt = serializers.CharField(source="prompt.negative_prompt")
    seed = serializers.IntegerField()
    steps = serializers.IntegerField(source="prompt.steps")
    guidance = serializers.FloatField(source="prompt.guidance")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    model = serializers.CharField(source="model_version.version_name")
    sampler = serializers.SerializerMethodField(help_text="its sampler, or how a one-pass model draws")
    visibility = serializers.CharField()
    realism_score = serializers.FloatField(
        allow_null=True,
        help_text="realism score against the real renders' feature manifold (Kynkäänniemi et al. 2019; >= 1: "
        "inside it); null where the model draws outside the Shapes domain",
    )
    alignment_score = serializers.FloatField(
        allow_null=True, help_text="0-1: the ranking judge's calibrated chance that the image shows its prompt"
    )
    scores = serializers.DictField(help_text="both scores, the realism percentile among real renders, the judge")
    rating_average = serializers.FloatField(allow_null=True, required=False)
    rating_count = serializers.IntegerField(required=False)
    created_at = serializers.DateTimeField()
    attention_words = serializers.ListField(child=serializers.CharField())
    attention_url = serializers.SerializerMethodField()

    def get_url(self, image) -> str:
        return image_payload(image)["url"]

    def get_sampler(self, image) -> str:
        return image.prompt.sampler or image.model_version.sampler_name

    def get_attention_url(self, image) -> str | None:
        return reverse("api:image-attention", args=[image.pk]) if image.has_attention else None


class AttentionOutputSerializer(serializers.Serializer):
    words = serializers.ListField(child=serializers.CharField(), help_text="the prompt's words, in order")
    width = serializers.IntegerField(help_text="width of one word's map")
    height = serializers.IntegerField(help_text="height of one word's map")
    maps = serializers.CharField(
        help_text="data:image/png;base64 grayscale PNG, width x (height * len(words)): word i in rows "
        "i*height..(i+1)*height, 0..255 = attention scaled by the word's own maximum"
    )


class JobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField()
    prompt = serializers.CharField(source="prompt.text_content")
    negative_prompt = serializers.CharField(source="prompt.negative_prompt")
    seed = serializers.IntegerField(source="prompt.seed")
    steps = serializers.IntegerField(source="prompt.steps")
    guidance = serializers.FloatField(source="prompt.guidance")
    width = serializers.IntegerField(source="prompt.width")
    height = serializers.IntegerField(source="prompt.height")
    num_images = serializers.IntegerField(source="prompt.num_images")
    model = serializers.CharField(source="model_version.version_name")
    sampler = serializers.CharField(source="prompt.sampler", help_text="blank for a model that draws in one pass")
    visibility = serializers.CharField()
    error = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    images = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField(help_text="queued jobs that start before this one (fair share)")
    unknown_words = serializers.SerializerMethodField(
        help_text="the prompt's words the model never read in a caption: they will not change what it draws "
        "(always empty for a model with an open vocabulary)"
    )
    warnings = serializers.SerializerMethodField(help_text="what to know before waiting for the picture, in words")

    def get_images(self, job) -> list[dict]:
        # a job's images are saved with its success, in one transaction (generation.results)
        return job_images_payload(job) if job.status == GenerationJob.Status.SUCCEEDED else []

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_unknown_words(self, job) -> list[str]:
        return prompt_unknown_words(text=job.prompt.text_content, version=job.model_version)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, job) -> list[str]:
        prompt = job.prompt
        return prompt_warnings(
            text=prompt.text_content, negative_prompt=prompt.negative_prompt, version=job.model_version
        )

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0))
    def get_queue_position(self, job) -> int | None:
        return job_queue_position(job=job)


class JobListCreateApi(APIView):
    class JobCreateInputSerializer(StrictSerializer):
        """The ranges are the prompt service's; the models and sizes are those registered when the schema is read."""

        prompt = serializers.RegexField(
            NON_BLANK_TEXT, max_length=PROMPT_MAX_LENGTH, trim_whitespace=False, help_text="not only spaces"
        )
        negative_prompt = serializers.CharField(required=False, allow_blank=True, max_length=PROMPT_MAX_LENGTH)
        seed = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=SEED_MAX)
        steps = serializers.IntegerField(required=False, min_value=STEPS_RANGE[0], max_value=STEPS_RANGE[1])
        guidance = serializers.FloatField(required=False, min_value=GUIDANCE_RANGE[0], max_value=GUIDANCE_RANGE[1])
        width = serializers.ChoiceField(choices=[], required=False)
        height = serializers.ChoiceField(choices=[], required=False)
        num_images = serializers.IntegerField(
            required=False, min_value=NUM_IMAGES_RANGE[0], max_value=NUM_IMAGES_RANGE[1]
        )
        model = serializers.ChoiceField(choices=[], required=False, help_text="default: the champion")
        sampler = serializers.ChoiceField(
            choices=[], required=False, help_text="an A1111 name from the model's `samplers`; default: its own"
        )
        visibility = serializers.ChoiceField(choices=Visibility.values, required=False)

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            try:
                versions = list(model_version_list())
            except DatabaseError:  # the schema read by `manage.py check` before the database is migrated
                versions = []
            if not versions:  # nothing to choose from yet: the service answers "no model version is available"
                self.fields["model"] = serializers.CharField(required=False)
                self.fields["width"] = serializers.IntegerField(required=False)
                self.fields["height"] = serializers.IntegerField(required=False)
                self.fields["sampler"] = serializers.CharField(required=False, max_length=40)
                return
            self.fields["model"].choices = [v.version_name for v in versions]
            offered = sorted({name for v in versions for name in v.samplers})
            self.fields["sampler"].choices = offered
            self.fields["sampler"].error_messages["invalid_choice"] = (
                '"{input}" is not a sampler of any model; the models offer ' + ", ".join(offered)
            )
            for index, name in ((0, "width"), (1, "height")):
                self.fields[name].choices = sorted({size[index] for v in versions for size in v.supported_sizes})

    pagination_class = StrictPageNumberPagination

    @extend_schema(responses=JobOutputSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.job_list_for_user(user=request.user), request, view=self)
        return paginator.get_paginated_response(JobOutputSerializer(page, many=True).data)

    @extend_schema(request=JobCreateInputSerializer, responses={201: JobOutputSerializer})
    def post(self, request):
        serializer = self.JobCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        job = services.generation_job_submit(user=request.user, text=data.pop("prompt"), **data)
        return Response(JobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutputSerializer)
    def get(self, request, job_id: int):
        return Response(JobOutputSerializer(job_or_404(user=request.user, job_id=job_id)).data)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses=JobOutputSerializer)
    def post(self, request, job_id: int):
        job = job_or_404(user=request.user, job_id=job_id)
        try:
            job = services.generation_job_cancel(job=job)
        except DjangoValidationError as error:  # already finished: nothing to cancel
            raise conflict_from(error) from error
        return Response(JobOutputSerializer(job).data)


class ImageListApi(APIView):
    permission_classes = [AllowAny]
    pagination_class = StrictPageNumberPagination

    class ImageListQuerySerializer(serializers.Serializer):
        scope = serializers.ChoiceField(
            choices=["mine", "public"], required=False, help_text="default: mine if signed in, else public"
        )
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=selectors.SEARCH_MAX_LENGTH,
            help_text="search in the prompt text",
        )
        sort = serializers.ChoiceField(
            choices=list(selectors.IMAGE_SORTS), required=False, help_text="default: newest first"
        )

    @extend_schema(parameters=[ImageListQuerySerializer], responses=ImageOutputSerializer(many=True))
    def get(self, request):
        query = self.ImageListQuerySerializer(data=query_values(request))
        query.is_valid(raise_exception=True)
        scope = query.validated_data.get("scope") or ("mine" if request.user.is_authenticated else "public")
        if scope == "mine" and not request.user.is_authenticated:
            raise exceptions.NotAuthenticated
        images = selectors.image_search(
            user=request.user,
            scope=scope,
            query=query.validated_data.get("q", ""),
            sort=query.validated_data.get("sort", "newest"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(images, request, view=self)
        return paginator.get_paginated_response(ImageOutputSerializer(page, many=True).data)


class ImageDetailApi(APIView):
    permission_classes = [AllowAny]  # reads follow visibility; writes are the owner's (`_owned_image`)

    class ImagePatchInputSerializer(StrictSerializer):
        visibility = serializers.ChoiceField(choices=Visibility.values)

    def _owned_image(self, request, image_id: int):
        """Invisible: 404, even when signed out; someone else's: 401 when signed out (DRF's rule), else 403."""
        try:
            return owned_image_or_403(user=request.user, image_id=image_id)
        except DjangoPermissionDenied as refusal:
            self.permission_denied(request, message=str(refusal))

    @extend_schema(responses=ImageOutputSerializer)
    def get(self, request, image_id: int):
        return Response(ImageOutputSerializer(image_or_404(user=request.user, image_id=image_id)).data)

    @extend_schema(request=ImagePatchInputSerializer, responses=ImageOutputSerializer)
    def patch(self, request, image_id: int):
        image = self._owned_image(request, image_id)
        serializer = self.ImagePatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.generated_image_set_visibility(image=image, visibility=serializer.validated_data["visibility"])
        return Response(ImageOutputSerializer(image_or_404(user=request.user, image_id=image_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, image_id: int):
        services.generated_image_delete(image=self._owned_image(request, image_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageFileApi(APIView):
    permission_classes = [AllowAny]

    class ImageFileQuerySerializer(serializers.Serializer):
        download = serializers.BooleanField(required=False, default=False, help_text="as an attachment")

    @extend_schema(parameters=[ImageFileQuerySerializer], responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, image_id: int):
        image = image_or_404(user=request.user, image_id=image_id)
        query = self.ImageFileQuerySerializer(data=query_values(request))
        query.is_valid(raise_exception=True)
        download = query.validated_data["download"]
        filename = f"t2i-{image.pk}-seed{image.seed}.png"
        return FileResponse(image.file.open("rb"), content_type="image/png", as_attachment=download, filename=filename)


class ImageAttentionApi(APIView):
    """What each word of the prompt attended to (DAAM for the diffusion model, word attention for the GAN)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=AttentionOutputSerializer)
    def get(self, request, image_id: int):
        attention = selectors.image_attention_get(image=image_or_404(user=request.user, image_id=image_id))
        if attention is None:
            raise Http404
        return Response(AttentionOutputSerializer(attention).data)
