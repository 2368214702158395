"""Auth API: POST /api/auth/token/ {"username", "password"} -> a new API key; GET /api/auth/me/.

The token endpoint makes a named, expiring API key (T2I_TOKEN_TTL_DAYS), shown once; keys made on the account
page can live longer. Both are sent as `Authorization: Token <key>` (or `Bearer <key>`).
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import api_key_create
from accounts.throttles import SignInIPThrottle, SignInUsernameThrottle


class TokenObtainApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []  # credentials are in the body; no session, so no CSRF check
    throttle_classes = [SignInIPThrottle, SignInUsernameThrottle]  # every guess costs a full password hash

    def get_authenticate_header(self, request):
        return "Token"  # wrong credentials are a 401, which needs a scheme to name

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer(
            "TokenResponse", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
        ),
    )
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            refusal = serializer.errors.get("non_field_errors", [None])[0]
            if getattr(refusal, "code", "") == "authorization":  # well formed, but not a user and their password
                raise exceptions.AuthenticationFailed(refusal)
            raise exceptions.ValidationError(serializer.errors)
        expires_at = timezone.now() + timedelta(days=settings.T2I_TOKEN_TTL_DAYS)
        key, raw_key = api_key_create(user=serializer.validated_data["user"], name="token", expires_at=expires_at)
        return Response({"token": raw_key, "expires_at": key.expires_at})


class MeApi(APIView):
    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        name = serializers.CharField()
        email = serializers.SerializerMethodField()
        role = serializers.CharField()

        @extend_schema_field(serializers.EmailField(allow_null=True))
        def get_email(self, user) -> str | None:
            return user.email or None  # no address is null, never ""

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        return Response(self.MeOutputSerializer(request.user).data)
