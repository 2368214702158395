"""Shared API pieces: serializers that reject unknown fields, and Django ValidationErrors as 400s.

Services raise django.core.exceptions.ValidationError keyed by the API's field names; the exception
handler turns them into DRF's 400 {"field": ["message"]} without the views having to catch anything.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler


class StrictSerializer(serializers.Serializer):
    """Unknown fields are an error, not silently ignored: a typo like "step" must not fall back to defaults."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
