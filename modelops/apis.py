"""GET /api/models/: the model versions a job may name."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from modelops.selectors import model_version_list


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


@extend_schema(responses=ModelVersionOutputSerializer(many=True))
class ModelVersionListApi(ListAPIView):
    permission_classes = [AllowAny]  # which models exist is public, like the public gallery
    serializer_class = ModelVersionOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return model_version_list()
