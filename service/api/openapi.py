"""What the OpenAPI document says of msgspec structs beyond Litestar's own reading of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPI, OpenAPIHeader, OpenAPIResponse, Schema
from litestar.openapi.spec.enums import OpenAPIType

from service.api.responses import RETRY_NOTE
from service.domain.rooms import ROOM_ID_PATTERN, ROOM_KEY

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

_METHODS = ("get", "put", "post", "delete", "patch")
_LISTS = (msgspec.inspect.ListType, msgspec.inspect.SetType, msgspec.inspect.VarTupleType)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """A struct's schema as its decoder checks it.

    A struct that refuses unknown fields (``forbid_unknown_fields=True``: every request body
    and WebSocket frame) says ``additionalProperties: false``; answers do not forbid them, as
    they may gain fields. A list's items keep their string constraints (a poll option's 1 to 80
    characters): Litestar reads constraints of a field itself only.
    """

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = cast(msgspec.inspect.StructType, msgspec.inspect.type_info(field_definition.type_))
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema) and isinstance(prop.items, Schema):
                _constrain_items(prop.items, field.type)
        return schema


def _constrain_items(items: Schema, kind: Any) -> None:
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    if isinstance(kind, _LISTS) and isinstance(kind.item_type, msgspec.inspect.StrType):
        item = kind.item_type
        items.min_length = items.min_length if items.min_length is not None else item.min_length
        items.max_length = items.max_length if items.max_length is not None else item.max_length
        items.pattern = items.pattern if items.pattern is not None else item.pattern


def name_served_kinds(openapi: OpenAPI, kinds: Iterable[str]) -> None:
    """Narrow every room id parameter's pattern (``kind:key``, declared before any settings
    exist) to the kinds this node serves: another kind is refused (``unknown_room_kind``)."""
    served = "|".join(re.escape(kind) for kind in sorted(kinds))
    pattern = rf"^(?:{served}):{ROOM_KEY}$(?!\n)"
    for item in (openapi.paths or {}).values():
        for method in _METHODS:
            operation = getattr(item, method, None)
            for param in (operation.parameters or []) if operation is not None else []:
                schema = getattr(param, "schema", None)
                if isinstance(schema, Schema) and schema.pattern == ROOM_ID_PATTERN:
                    schema.pattern = pattern


_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1),
    description="Whole seconds to wait before trying again (the body's `retry_after` is exact).",
)


def describe_answers(openapi: OpenAPI) -> None:
    """Declare the ``Retry-After`` header on every refusal that sends it, and describe a 201
    as what it is (Litestar's default text promises a ``Location`` no answer carries)."""
    for item in (openapi.paths or {}).values():
        for method in _METHODS:
            operation = getattr(item, method, None)
            for status, answer in ((operation.responses or {}).items() if operation else ()):
                if not isinstance(answer, OpenAPIResponse):
                    continue
                if RETRY_NOTE in answer.description:
                    answer.headers = {**(answer.headers or {}), "Retry-After": _RETRY_AFTER}
                if status == "201" and answer.description.startswith("Document created"):
                    answer.description = "Created (a retry of the same request answers the same)"
