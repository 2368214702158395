"""Errors in each client's shapes. The studio's own handler (t2i_site.api) first turns service errors into DRF's;
then OpenAI's answer is {"error": {"message", "type", "param", "code"}} and A1111's {"error", "detail", "errors"}.
"""

from __future__ import annotations

from rest_framework import exceptions, status

from generation.models import GenerationJob
from t2i_site.api import exception_handler as studio_exception_handler


class JobNotFinished(exceptions.APIException):
    """The job a synchronous request waited for failed, was cancelled, or is still running when the wait ran out."""

    def __init__(self, job: GenerationJob):
        self.job = job
        if job.status == GenerationJob.Status.FAILED:
            self.status_code, code = status.HTTP_500_INTERNAL_SERVER_ERROR, "generation_failed"
            detail = f"job {job.pk} failed: {job.error or 'no reason recorded'}"
        elif job.status == GenerationJob.Status.CANCELLED:
            self.status_code, code = status.HTTP_409_CONFLICT, "cancelled"
            detail = f"job {job.pk} was cancelled"
        else:
            self.status_code, code = status.HTTP_504_GATEWAY_TIMEOUT, "timeout"
            detail = f"job {job.pk} is still {job.status}; follow it at /api/jobs/{job.pk}/"
        super().__init__(detail=detail, code=code)


def _first_problem(data) -> tuple[str | None, str]:
    """(field, message) of a DRF error body: {"field": ["message"]} or {"detail": "message"}."""
    if isinstance(data, dict):
        if set(data) <= {"detail", "limit", "allowed", "used"}:  # a refusal, not a field's error
            return None, str(data.get("detail", ""))
        field, messages = next(iter(data.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(message, dict):  # a nested serializer
            inner, text = _first_problem(message)
            return f"{field}.{inner}" if inner else field, text
        return (None if field == "non_field_errors" else field), str(message)
    if isinstance(data, list) and data:
        return None, str(data[0])
    return None, str(data)


def _openai_type(exc, status_code: int, data) -> tuple[str, str | None]:
    if status_code == 401:
        return "invalid_request_error", "invalid_api_key"
    if status_code == 429 and isinstance(data, dict) and "limit" in data:  # a quota (generation.quotas), not a rate
        return "insufficient_quota", "insufficient_quota"
    if status_code == 429:
        return "requests", "rate_limit_exceeded"
    if status_code == 404:
        return "invalid_request_error", "not_found"
    if isinstance(exc, JobNotFinished):
        return ("server_error" if status_code >= 500 else "invalid_request_error"), exc.get_codes()
    if status_code >= 500:
        return "server_error", None
    return "invalid_request_error", None


def openai_exception_handler(exc, context):
    response = studio_exception_handler(exc, context)
    if response is None:
        return None
    field, message = _first_problem(response.data)
    if field and not message.startswith("Unrecognized"):
        message = f"{field}: {message}"
    kind, code = _openai_type(exc, response.status_code, response.data)
    response.data = {"error": {"message": message, "type": kind, "param": field, "code": code}}
    return response


def a1111_exception_handler(exc, context):
    """A1111 answers errors as {"error": <kind>, "detail": <message>, "body": "", "errors": <message>} (its API's
    exception handler); `errors` here also keeps the studio's per-field messages, so a client can show them."""
    response = studio_exception_handler(exc, context)
    if response is None:
        return None
    field, message = _first_problem(response.data)
    text = f"{field}: {message}" if field else message
    kinds = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
    }
    response.data = {
        "error": kinds.get(response.status_code, "ServerError"),
        "detail": text,
        "body": "",
        "errors": response.data if isinstance(response.data, dict) else text,
    }
    return response
