"""What the OpenAPI document says of msgspec structs beyond Litestar's own reading of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """A struct that refuses unknown fields (``forbid_unknown_fields=True``: every request body
    and WebSocket frame) says ``additionalProperties: false``, so the document tells a client
    what the decoder enforces. Answers do not forbid them: they may gain fields."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = cast(msgspec.inspect.StructType, msgspec.inspect.type_info(field_definition.type_))
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
