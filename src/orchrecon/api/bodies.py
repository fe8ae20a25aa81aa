"""Request bodies and query strings, checked field by field: a 422 names the field at fault."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from starlette.requests import Request

from orchrecon.api.errors import ApiError
from orchrecon.api.names import shown


class Kind(Enum):
    NAMES = "a list of strings"
    TEXT = "a string"
    FLAG = "true or false"
    OPTIONAL_TEXT = "a string or null"


MAX_ITEMS = 1000


async def read_object(
    request: Request, fields: Mapping[str, Kind], *, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The JSON object of the body (an empty body is `{}`), with only `fields`, each of its kind."""
    raw = await request.body()
    if not raw.strip():
        data: object = {}
    else:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(422, f"body: not JSON ({_first_line(exc)})") from None
        except RecursionError:
            raise ApiError(422, "body: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"body: must be a JSON object, not {_json_type(data)}")
    unknown = sorted(k for k in data if k not in fields)
    if unknown:
        raise ApiError(422, f"body: unknown field {shown(unknown[0])} (fields: {', '.join(fields) or 'none'})")
    missing = [k for k in required if k not in data]
    if missing:
        raise ApiError(422, f"{missing[0]}: required")
    for key, value in data.items():
        _check(key, value, fields[key])
    return data


def _check(key: str, value: object, kind: Kind) -> None:
    ok = {
        Kind.NAMES: isinstance(value, list) and all(isinstance(v, str) for v in value),
        Kind.TEXT: isinstance(value, str),
        Kind.FLAG: isinstance(value, bool),
        Kind.OPTIONAL_TEXT: value is None or isinstance(value, str),
    }[kind]
    if not ok:
        raise ApiError(422, f"{key}: must be {kind.value}, not {_json_type(value)}")
    if isinstance(value, list) and len(value) > MAX_ITEMS:
        raise ApiError(422, f"{key}: at most {MAX_ITEMS} items")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        odd = [v for v in value if not isinstance(v, str)]
        return f"a list containing {_json_type(odd[0])}" if odd else "a list"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", str: "a string", int: "a number", float: "a number"}.get(type(value), "null")


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once and each one of `allowed`."""
    params = request.query_params
    for key in params:
        if key not in allowed:
            raise ApiError(422, f"{shown(key)}: unknown query parameter (parameters: {', '.join(allowed)})")
        if len(params.getlist(key)) > 1:
            raise ApiError(422, f"{shown(key)}: given more than once")
    return dict(params)
