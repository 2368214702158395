"""The OpenAPI schema says everything the API can answer, so generated clients (and schemathesis) can trust it.

drf-spectacular documents only the success response of each operation; the studio's operations can also answer:

- 400 when they take a body or query parameters (the field errors, `{"field": ["message"]}`);
- 401 and 403 unless anyone may call them (no or a bad API key; not yours or staff only);
- 404 when they name an object in their path, or when they page through a list (a page past the end);
- 409 when the object's state forbids the action (cancelling a finished job, a refused promotion);
- 429 always: the API's throttles, the sign-in throttles and the per-user quotas, with `Retry-After`.

Strict request serializers (unknown fields are a 400) are declared with `additionalProperties: false`.
"""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from t2i_site.api import TEXT, StrictSerializer

ERROR = {
    "type": "object",
    "description": "`detail` (a message), or field names with their messages",
    "additionalProperties": True,
}
DESCRIPTIONS = {
    "400": "Invalid input: the fields and what is wrong with them",
    "401": "No API key or session, or an invalid, expired or revoked key",
    "403": "Not allowed (someone else's object, or staff only)",
    "404": "No such object (or not visible to you), or a page past the end",
    "409": "The object's state does not allow this",
    "429": "Too many requests or over a quota: see Retry-After and the body",
}


class StudioAutoSchema(AutoSchema):
    # operations whose object's state can refuse the action: (method, path suffix)
    conflicts = (("POST", "/cancel/"), ("POST", "/promote/"), ("POST", "/rollback/"))

    def _error_codes(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        codes = ["429"]
        if self.method in ("POST", "PUT", "PATCH") or any(p.get("in") == "query" for p in parameters):
            codes.append("400")
        anyone = any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
        if not anyone or self.method != "GET":  # anyone may read some things; writing always needs someone
            codes += ["401", "403"]
        if "{" in self.path or any(p.get("name") == "page" for p in parameters):
            codes.append("404")
        if any(self.method == method and self.path.endswith(suffix) for method, suffix in self.conflicts):
            codes.append("409")
        return codes

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            for code in self._error_codes(operation):
                operation["responses"].setdefault(
                    code, {"description": DESCRIPTIONS[code], "content": {"application/json": {"schema": ERROR}}}
                )
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        plain_text = isinstance(field, serializers.CharField) and not isinstance(field, serializers.RegexField)
        if direction == "request" and plain_text and "enum" not in schema:
            schema.setdefault("pattern", TEXT)  # DRF refuses NUL in every text field
        return schema

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # spectacular offers a blank field's "" as a second alternative; our text pattern already admits "", and
        # oneOf must match exactly one alternative, so keep the one
        alternatives = schema.get("oneOf", [])
        if (
            len(alternatives) == 2
            and alternatives[1] == {"type": "string", "maxLength": 0}
            and alternatives[0].get("pattern") == TEXT
            and not {"minLength", "format"} & set(alternatives[0])
        ):
            schema.update(schema.pop("oneOf")[0])

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema
