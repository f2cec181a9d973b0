"""JSON request bodies, read so that no body can reach a handler it would break.

1. A body nested too deep for the parser is malformed JSON (400 ``malformed_json``),
   like any other body that cannot be read.
2. A NUL character, anywhere in a key or a string, is refused with 400
   ``validation_error`` naming where it is: PostgreSQL text and jsonb cannot hold it,
   so accepted, it would fail the write that stores it.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from apollo.errors import MalformedJson, ValidationFailed

NUL = "\x00"


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            path = nul_path(data)
        except (ParseError, RecursionError):
            raise MalformedJson() from None
        if path is not None:
            raise ValidationFailed.for_field(
                path, "Null characters are not allowed.", code="null_characters_not_allowed"
            )
        return data


def nul_path(value, prefix: str = "") -> str | None:
    """Where the first NUL of ``value`` is, as validation details name fields."""
    if isinstance(value, str):
        return prefix if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            if NUL in key:
                return path
            found = nul_path(item, path)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{prefix}[{index}]")
            if found is not None:
                return found
    return None
