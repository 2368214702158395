"""POST /api/images/<id>/feedback/ {"rating": 1-5, "comment"?}: create or replace the caller's feedback."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback.selectors import feedback_summary
from feedback.services import COMMENT_MAX_LENGTH, feedback_submit
from generation.lookups import image_or_404
from t2i_site.api import StrictSerializer


class FeedbackApi(APIView):
    class FeedbackInputSerializer(StrictSerializer):
        rating = serializers.IntegerField(min_value=1, max_value=5)
        comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_MAX_LENGTH)

    class FeedbackOutputSerializer(serializers.Serializer):
        image = serializers.IntegerField(source="feedback.image_id")
        rating = serializers.IntegerField(source="feedback.rating")
        comment = serializers.CharField(source="feedback.comment")
        rating_average = serializers.FloatField(source="summary.average")
        rating_count = serializers.IntegerField(source="summary.count")

    @extend_schema(request=FeedbackInputSerializer, responses={201: FeedbackOutputSerializer})
    def post(self, request, image_id: int):
        image = image_or_404(user=request.user, image_id=image_id)
        serializer = self.FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = feedback_submit(user=request.user, image=image, **serializer.validated_data)
        data = {"feedback": feedback, "summary": feedback_summary(image=image)}
        return Response(self.FeedbackOutputSerializer(data).data, status=status.HTTP_201_CREATED)
