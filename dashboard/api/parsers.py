"""The API's JSON parser: DRF's, with the bounds of ``dashboard.lib.jsontext`` (docs/architecture.md
"Bad input").

DRF's own parser lets a body of 100,000 ``[`` raise ``RecursionError`` (a 500), and passes NUL characters
and unpaired surrogates on to a database that cannot store them. Here both are a 400 that says why.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from dashboard.lib import jsontext


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding)
            value = jsontext.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from None
        problem = jsontext.storable_problem(value)
        if problem:
            raise ParseError(f"The body contains {problem}, which cannot be stored.")
        return value
