"""GET /api/models/: the model versions a job may name (public). Staff: promote, rollback, evaluate, changes."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from modelops.selectors import model_change_list, model_version_get_by_id, model_version_list
from modelops.services import (
    PromotionRefused,
    model_version_evaluation_request,
    model_version_promote,
    model_version_rollback,
)
from t2i_site.api import NON_BLANK_TEXT, TEXT, StrictSerializer, conflict_from


class ModelVersionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version_name = serializers.CharField()
    accuracy = serializers.FloatField(allow_null=True)
    loss = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()
    is_current = serializers.BooleanField()
    supported_sizes = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    default_steps = serializers.IntegerField()
    default_guidance = serializers.FloatField()
    sampler_name = serializers.CharField()
    samplers = serializers.ListField(
        child=serializers.CharField(), help_text="what a job's `sampler` may name, the default first"
    )
    vocabulary = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="the words it knows, grouped (shapes, colours, sizes, relations, counts, other) with example "
        "prompts; empty for a model with an open vocabulary",
    )
    registry_version = serializers.IntegerField(allow_null=True)
    aliases = serializers.ListField(child=serializers.CharField())
    alignment = serializers.DictField(child=serializers.FloatField())


@extend_schema(responses=ModelVersionOutputSerializer(many=True))
class ModelVersionListApi(ListAPIView):
    permission_classes = [AllowAny]  # which models exist is public, like the public gallery
    serializer_class = ModelVersionOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return model_version_list()


# Staff: promotion, rollback, evaluation -----------------------------------------------------------------
class PromoteInputSerializer(StrictSerializer):
    reason = serializers.CharField(allow_blank=True, max_length=2000, required=False, default="")
    force = serializers.BooleanField(required=False, default=False)


# what the schema says of a promotion's body: a forced one needs a written reason (the service checks the same)
_REASON = {"type": "string", "maxLength": 2000, "pattern": TEXT}
PROMOTE_REQUEST_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"reason": _REASON, "force": {"type": "boolean", "enum": [False]}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "reason": {**_REASON, "pattern": NON_BLANK_TEXT},
                "force": {"type": "boolean", "enum": [True]},
            },
            "required": ["force", "reason"],
            "additionalProperties": False,
        },
    ]
}


def _state_refusal(error: DjangoValidationError):
    """The version's or the registry's state refuses it (already champion, nothing to roll back to): 409."""
    if hasattr(error, "error_dict") and "version" in error.error_dict:
        return conflict_from(error)
    return error


class RollbackInputSerializer(StrictSerializer):
    reason = serializers.CharField(allow_blank=True, max_length=2000, required=False, default="")


class ModelChangeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    from_version = serializers.CharField(source="from_version.version_name", allow_null=True, default=None)
    to_version = serializers.CharField(source="to_version.version_name", allow_null=True, default=None)
    reason = serializers.CharField()
    forced = serializers.BooleanField()
    gate = serializers.JSONField()
    created_at = serializers.DateTimeField()


def _version_or_404(version_id: int):
    version = model_version_get_by_id(version_id=version_id)
    if version is None:
        raise NotFound("no such model version")
    return version


class ModelVersionPromoteApi(APIView):
    """Promote to champion through the evaluation gate: 200 with the gate result, 409 with the failing categories."""

    permission_classes = [IsAdminUser]

    @extend_schema(request={"application/json": PROMOTE_REQUEST_SCHEMA}, responses={200: ModelChangeOutputSerializer})
    def post(self, request, version_id: int):
        version = _version_or_404(version_id)
        serializer = PromoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            change = model_version_promote(version=version, actor=request.user, **data)
        except DjangoValidationError as error:
            raise _state_refusal(error) from error
        except PromotionRefused as refused:
            body = {
                "detail": str(refused),
                "failing": refused.gate.failing,
                "gate": refused.gate.as_dict(),
                "change": refused.change.pk,
            }
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(ModelChangeOutputSerializer(change).data)


class ModelVersionRollbackApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=RollbackInputSerializer, responses={200: ModelChangeOutputSerializer})
    def post(self, request):
        serializer = RollbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            change = model_version_rollback(actor=request.user, **data)
        except DjangoValidationError as error:
            raise _state_refusal(error) from error
        return Response(ModelChangeOutputSerializer(change).data)


class ModelVersionEvaluateApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={202: None})
    def post(self, request, version_id: int):
        version = _version_or_404(version_id)
        with transaction.atomic():
            model_version_evaluation_request(version=version)
        return Response({"queued": version.pk}, status=status.HTTP_202_ACCEPTED)


class ModelChangeListApi(ListAPIView):
    permission_classes = [IsAdminUser]
    serializer_class = ModelChangeOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return model_change_list()
