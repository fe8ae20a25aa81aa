"""JSON Schema validation of one document, as positioned diagnostics.

Valid documents, the common case, take the fast path through jsonschema-rs. A document it rejects
is validated again by python-jsonschema, whose errors carry the structure (`context`, `validator`)
we turn into plain-language messages at exact positions.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from orchrecon.documents.cron import CronError, parse_cron
from orchrecon.documents.loader import Document, JsonPath
from orchrecon.errors import Diagnostic

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_NAME = "orchestration.schema.json"

_PATTERN_HINTS = {
    "name": "a name: lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit",
    "tableId": "a table id: letters, digits, '_', '.' and '-', up to 200 characters, not starting with '.' or '-'",
    "duration": "a duration such as 30s, 5m, 1h30m or 2d (units d, h, m, s in that order)",
    "configRef": "a configuration reference 'component/name'",
    "resourceAmount": "a number more than 0 or a size such as 512MiB, 4GiB or 1.5GB "
    "(units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
}
_FIELD_HINTS = {
    "webhook": "an http:// or https:// URL",
    "statusPointer": "a JSON pointer into the response, such as /status",
    "fromEnv": "an environment variable name (letters, digits and _, not starting with a digit)",
}
_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"})
_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean (true or false)",
    "integer": "an integer",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def schema_path() -> Path:
    """The shipped schema: package data when installed, the repository's file in a source checkout."""
    packaged = resources.files("orchrecon") / "schema" / SCHEMA_NAME
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "schema" / SCHEMA_NAME


@cache
def load_schema() -> dict[str, Any]:
    with schema_path().open(encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


class SchemaValidator:
    """Validates documents against the schema; build once and reuse (compiling is the costly part)."""

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self._schema = schema if schema is not None else load_schema()
        import jsonschema_rs  # noqa: PLC0415 - 20 ms: only commands that validate pay for it

        self._fast = jsonschema_rs.validator_for(self._schema)
        self._full: jsonschema.Draft202012Validator | None = None
        self._patterns = _pattern_names(self._schema)

    def check(self, doc: Document) -> list[Diagnostic]:
        if self._fast.is_valid(doc.data):
            return []
        diagnostics = [d for error in self._reference().iter_errors(doc.data) for d in self._explain(doc, error)]
        if not diagnostics:
            # jsonschema-rs refuses infinity and NaN wherever a type is asked; python-jsonschema takes them for numbers.
            diagnostics = [_at(doc, path, _non_finite_message(value)) for path, value in _non_finite(doc.data)]
        return diagnostics or [Diagnostic(file=doc.file, line=1, col=1, message="document does not match the schema")]

    def _reference(self) -> jsonschema.Draft202012Validator:
        """python-jsonschema, imported only for a document that fails: it costs 50 ms at start-up."""
        if self._full is None:
            import jsonschema  # noqa: PLC0415

            self._full = jsonschema.Draft202012Validator(self._schema)
        return self._full

    def _explain(self, doc: Document, error: ValidationError) -> Iterator[Diagnostic]:
        path: JsonPath = tuple(error.absolute_path)
        kind, value, _, schema = _parts(error)
        if kind in ("oneOf", "anyOf"):
            choice = _exactly_one_of(error)
            if choice is not None:
                yield _at(doc, path, choice)
            elif error.context:
                for branch_error in _closest_branch(error.context):
                    yield from self._explain(doc, branch_error)
            else:
                yield _at(doc, path, str(error.message))
            return
        if "propertyNames" in error.schema_path:
            yield _at(doc, (*path, value), self._name_message(path, value), key=True)
            return
        if kind == "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            for extra in _extras(error):
                yield _at(doc, (*path, extra), _unknown_property(extra, allowed), key=True)
            return
        if kind == "uniqueItems":
            index, first = _duplicate(value)
            yield _at(doc, (*path, index), f"duplicate item {value[index]!r} (also item {first + 1})")
            return
        yield _at(doc, path, self._message(error))

    def _name_message(self, path: JsonPath, name: str) -> str:
        if path and path[-1] == "env":
            return f"{name!r} is not an environment variable name (letters, digits and _, not starting with a digit)"
        if path and path[-1] == "resources":
            return (
                f"{name!r} is not a resource name (letters, digits, _, . and -, up to 64 characters, "
                "starting with a letter or _)"
            )
        return f"{name!r} is not a valid name here (letters, digits and -)"

    def _message(self, error: ValidationError) -> str:
        kind, value, expected, _ = _parts(error)
        field = error.absolute_path[-1] if error.absolute_path else None
        if field == "cron" and kind == "pattern":
            try:
                parse_cron(value)
            except CronError as exc:
                return f"invalid cron {value!r}: {exc}"
            return f"invalid cron {value!r}: write 5 fields separated by spaces, or an @ macro"
        if field == "cooldown" and kind == "not":
            return f"cooldown must be at least 1m, got {value!r}"
        if kind == "required":
            # jsonschema reports each missing property as its own error, naming it only in the message.
            return f"missing required property {str(error.message).removesuffix(' is a required property')}"
        if kind == "type":
            return _type_message(value, expected)
        if kind == "enum":
            return _enum_message(value, expected)
        if kind == "const":
            return f"expected {expected!r}, got {value!r}"
        if kind == "pattern":
            hint = self._patterns.get(expected) or _FIELD_HINTS.get(str(field))
            return f"{value!r} is not {hint}" if hint else f"{value!r} does not match {expected}"
        if kind == "minItems" and expected == 1:
            return "must not be empty"
        if kind in ("minimum", "maximum"):
            word = "at least" if kind == "minimum" else "at most"
            return f"must be {word} {expected}, got {value!r}"
        if kind == "exclusiveMinimum":
            return f"must be more than {expected}, got {value!r}"
        return str(error.message)


def _at(doc: Document, path: JsonPath, message: str, *, key: bool = False) -> Diagnostic:
    line, col = doc.position(path, key=key)
    return Diagnostic(file=doc.file, line=line, col=col, message=message, json_path=render_path(path))


def render_path(path: JsonPath) -> str:
    """`('spec', 'phases', 0)` -> `$.spec.phases[0]`."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.replace("-", "").replace("_", "").isalnum():
            out.append(f".{part}")
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def _pattern_names(schema: dict[str, Any]) -> dict[str, str]:
    """Map each named `$defs` pattern to the plain-language hint for it."""
    defs = schema.get("$defs", {})
    return {defs[n]["pattern"]: hint for n, hint in _PATTERN_HINTS.items() if "pattern" in defs.get(n, {})}


def _exactly_one_of(error: ValidationError) -> str | None:
    """For `oneOf: [{required: [a]}, {required: [b]}]`, say so plainly; None for other oneOfs."""
    _, value, branches, _ = _parts(error)
    names = []
    for branch in branches:
        if set(branch) != {"required"} or len(branch["required"]) != 1:
            return None
        names.append(branch["required"][0])
    present = [n for n in names if isinstance(value, dict) and n in value]
    quoted = [repr(n) for n in names]
    listed = " or ".join(quoted) if len(quoted) < 3 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    if present:
        return f"set exactly one of {listed}, not {' and '.join(repr(n) for n in present)}"
    return f"missing {listed}: set exactly one of them"


def _parts(error: ValidationError) -> tuple[str, Any, Any, Mapping[str, Any]]:
    """The failing keyword, instance, keyword value and schema, untyped as jsonschema leaves them."""
    return str(error.validator), cast(Any, error.instance), cast(Any, error.validator_value), cast(Any, error.schema)


def _closest_branch(errors: Sequence[ValidationError]) -> list[ValidationError]:
    """The errors of the alternative the user most likely meant: the first whose type fits the value."""
    branches: dict[object, list[ValidationError]] = {}
    for e in errors:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    for branch in branches.values():
        if not any(e.validator == "type" and not e.relative_path for e in branch):
            return branch
    from jsonschema.exceptions import best_match  # noqa: PLC0415 - see SchemaValidator._reference

    best: ValidationError = best_match(errors)
    return [best]


def _non_finite(data: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, float]]:
    """Where the data holds YAML's `.inf` or `.nan`, or a float too large to hold (`1e400`, read as infinity)."""
    if isinstance(data, float) and not math.isfinite(data):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _non_finite(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _non_finite(value, (*path, index))


def _non_finite_message(value: float) -> str:
    if math.isnan(value):
        return "expected a number, got .nan (not a number)"
    return "expected a finite number, got infinity (.inf, or a number too large to hold, like 1e400)"


def _extras(error: ValidationError) -> list[str]:
    _, value, _, schema = _parts(error)
    instance = value if isinstance(value, dict) else {}
    props = schema.get("properties", {})
    return [k for k in instance if k not in props]


def _unknown_property(name: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        return f"unknown property {name!r}; did you mean {close[0]!r}?"
    return f"unknown property {name!r} (allowed: {', '.join(allowed)})" if allowed else f"unknown property {name!r}"


def _duplicate(items: list[Any]) -> tuple[int, int]:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            return i, seen[key]
        seen[key] = i
    return 0, 0


def _type_message(value: Any, expected: str | list[str]) -> str:
    wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
    message = f"expected {wanted}, got {_describe(value)}"
    if expected == "boolean" and value in _YAML11_BOOLEANS:
        message += "; YAML 1.1 words like yes/on stay strings here, write true or false"
    return message


def _enum_message(value: Any, expected: list[Any]) -> str:
    options = ", ".join(str(e) for e in expected)
    by_case = {str(e).lower(): str(e) for e in expected}
    close = difflib.get_close_matches(str(value).lower(), list(by_case), n=1)
    hint = f"; did you mean {by_case[close[0]]!r}?" if close else ""
    return f"{value!r} is not one of: {options}{hint}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return "a list" if isinstance(value, list) else "a mapping"
