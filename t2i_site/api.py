"""Shared API pieces: serializers that reject unknown fields, and Django ValidationErrors as 400s.

Services raise django.core.exceptions.ValidationError keyed by the API's field names; the exception
handler turns them into DRF's 400 {"field": ["message"]} without the views having to catch anything.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import exception_handler as drf_exception_handler

from t2i_site.limits import LimitExceeded


class Conflict(exceptions.APIException):
    """409: the request is well formed, but the object's state does not allow it (cancelling a finished job)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object's state does not allow this."
    default_code = "conflict"


def conflict_from(error: DjangoValidationError) -> Conflict:
    return Conflict(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


# text fields never hold NUL (DRF refuses it); a prompt needs a character that is not a space
TEXT = r"^[^\x00]*$"
NON_BLANK_TEXT = r"^[^\x00]*\S[^\x00]*$"


def _json_type_error(field, value) -> str | None:
    """What is wrong with a JSON value's type for `field`, or None. DRF would coerce "5" to 5 and false to 0.0;
    the schema says number, so a string or a boolean is refused rather than guessed at."""
    if value is None:
        return None  # allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        return None if integral and not isinstance(value, bool) else "Must be an integer."
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, serializers.ChoiceField):
        if all(isinstance(choice, int) for choice in field.choices) and field.choices:
            return None if isinstance(value, int) and not isinstance(value, bool) else "Must be an integer."
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.CharField):
        return None if isinstance(value, str) else "Must be a string."
    return None


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored: a typo like "step" must not fall back to defaults; and
    a value of the wrong JSON type is an error, not coerced."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
            wrong = {
                name: [error]
                for name, field in self.fields.items()
                if name in data and (error := _json_type_error(field, data[name]))
            }
            if wrong:
                raise exceptions.ValidationError(wrong)
        return super().to_internal_value(data)


class StrictPageNumberPagination(PageNumberPagination):
    """`page` must be a positive integer (400 otherwise); a page past the end is DRF's 404."""

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise exceptions.ValidationError({self.page_query_param: ["Must be a positive integer."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


def query_values(request) -> dict:
    """The query string as a plain dict (the last value of a repeated key), so a serializer validates an empty
    value as the empty string it is, instead of treating it like a form's unset field."""
    return request.query_params.dict()


class OverQuota(exceptions.Throttled):
    """429 with Retry-After and a body naming the limit (a LimitExceeded, e.g. a per-user quota)."""

    def __init__(self, refusal):
        super().__init__(wait=refusal.retry_after_s, detail=refusal.message)
        self.body = refusal.as_dict()


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    if isinstance(exc, LimitExceeded):
        exc = OverQuota(exc)
    response = drf_exception_handler(exc, context)
    if isinstance(exc, OverQuota) and response is not None:
        response.data = exc.body
    return response
