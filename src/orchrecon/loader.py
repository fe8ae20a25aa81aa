"""YAML files to JSON-like data, keeping the composed node tree for exact source positions.

We compose with libyaml but resolve scalars ourselves, stricter than YAML 1.1: a plain scalar is
null, a boolean, an integer or a float only when it is spelled exactly like one in YAML 1.2 core
(`true`, `12`, `1.5`); `on`, `yes`, `012`, `6:30` and `2026-01-01` stay strings. Aliases are
refused: expanding them is how "billion laughs" documents exhaust memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml._yaml import CParser

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64

JsonPath = tuple[str | int, ...]

_IMPLICIT = "orchrecon:implicit"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_SPECIAL_FLOATS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan")}
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset({_TAG + "str", _TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null", "!"})


class LoadError(Exception):
    """A file that cannot be turned into data; line and col are 1-based."""

    def __init__(self, message: str, line: int = 1, col: int = 1, path: JsonPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.path = path


@dataclass(frozen=True, kw_only=True)
class Document:
    """A loaded file: its data and the node tree the positions come from."""

    file: str
    data: dict[str, Any]
    root: yaml.MappingNode

    def position(self, path: JsonPath, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, col) of the node at `path`, or of its key when `key`.

        A path that leaves the tree (a missing property) resolves to the deepest node that exists,
        which is where a user would add the missing piece.
        """
        node: yaml.Node = self.root
        for i, part in enumerate(path):
            child = _child(node, part, key=key and i == len(path) - 1)
            if child is None:
                break
            node = child
        return node.start_mark.line + 1, node.start_mark.column + 1


def _child(node: yaml.Node, part: str | int, *, key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for k, v in node.value:
            if k.value == part:
                return k if key else v  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


class _Parser(CParser):
    """libyaml's composer with tag resolution switched off: `_scalar` decides types instead."""

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        return _IMPLICIT

    def descend_resolver(self, parent: object, index: object) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def load_text(file: str, raw: bytes) -> Document:
    """Parse one file's bytes into a `Document`; raises `LoadError` with a position."""
    if len(raw) > MAX_FILE_BYTES:
        raise LoadError(f"file is {len(raw)} bytes; documents are limited to {MAX_FILE_BYTES} bytes (1 MiB)")
    text = _decode(raw)
    _check_flow_depth(text)
    parser = _Parser(text)
    try:
        root = parser.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc) from None
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML: {exc}") from None
    finally:
        parser.dispose()
    if root is None:
        raise LoadError("file holds no document; expected a mapping with apiVersion and kind")
    if not isinstance(root, yaml.MappingNode):
        raise LoadError("the top level must be a mapping with apiVersion and kind", *_mark(root))
    data = _Builder().build(root)
    return Document(file=file, data=data, root=root)


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise LoadError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); documents must be UTF-8", line, col) from None


def _check_flow_depth(text: str) -> None:
    """Refuse deep flow nesting before libyaml's recursive composer sees it."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for offset, ch in enumerate(text):
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, offset) + 1
                col = offset - (text.rfind("\n", 0, offset) + 1) + 1
                raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", line, col)
        elif ch in "]}":
            depth = max(depth - 1, 0)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _yaml_error(exc: yaml.MarkedYAMLError) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if "expected a single document" in (exc.context or ""):
        problem = "a file holds exactly one document; a second one starts here"
    elif exc.context and exc.problem:
        problem = f"{exc.context}: {exc.problem}" if "found" not in exc.context else exc.problem
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    return LoadError(f"invalid YAML: {problem}", line, col)


class _Builder:
    """Turns a node tree into plain data; every node may be used once (no aliases)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def build(self, root: yaml.MappingNode) -> dict[str, Any]:
        result = self._node(root, 0)
        assert isinstance(result, dict)
        return result

    def _node(self, node: yaml.Node, depth: int) -> Any:
        if id(node) in self._seen:
            raise LoadError("YAML aliases (*name) are not allowed; repeat the value instead", *_mark(node))
        self._seen.add(id(node))
        if depth > MAX_DEPTH:
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", *_mark(node))
        cls = node.__class__
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if node.tag != _IMPLICIT and node.tag not in (_TAG + "seq", _TAG + "map"):
            raise LoadError(f"unsupported YAML tag {node.tag!r}", *_mark(node))
        if cls is yaml.SequenceNode:
            return [self._at(i, child, depth) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        return self._mapping(node, depth)

    def _at(self, part: str | int, node: yaml.Node, depth: int) -> Any:
        try:
            return self._node(node, depth + 1)
        except LoadError as exc:
            exc.path = (part, *exc.path)
            raise

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                raise LoadError("mapping keys must be plain strings", *_mark(key_node))
            if id(key_node) in self._seen:
                raise LoadError("YAML aliases (*name) are not allowed; repeat the value instead", *_mark(key_node))
            self._seen.add(id(key_node))
            key = key_node.value
            if key == "<<" and not key_node.style:
                raise LoadError("YAML merge keys (<<) are not allowed; write the keys out", *_mark(key_node))
            if key in result:
                raise LoadError(f"duplicate key {key!r} (first at line {first_line[key]})", *_mark(key_node))
            first_line[key] = key_node.start_mark.line + 1
            if id(value_node) in self._seen:
                line, _ = _mark(value_node)
                raise LoadError(
                    f"YAML aliases are not allowed: {key!r} repeats the anchored value of line {line}",
                    *_mark(key_node),
                )
            result[key] = self._at(key, value_node, depth)
        return result


def _scalar(node: yaml.ScalarNode) -> Any:
    value: str = node.value
    tag = node.tag
    if tag != _IMPLICIT:
        return _tagged(node, tag, value)
    if node.style:  # libyaml marks plain scalars with an empty style
        return value
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    special = _SPECIAL_FLOATS.get(value.lower())
    return special if special is not None else value


def _tagged(node: yaml.ScalarNode, tag: str, value: str) -> Any:
    if tag not in _SCALAR_TAGS:
        raise LoadError(f"unsupported YAML tag {tag!r}", *_mark(node))
    if tag in (_TAG + "str", "!"):
        return value
    plain = _scalar(yaml.ScalarNode(_IMPLICIT, value, node.start_mark, node.end_mark, style=""))
    expected = {_TAG + "int": int, _TAG + "float": float, _TAG + "bool": bool, _TAG + "null": type(None)}[tag]
    if expected is float and type(plain) is int:
        return float(plain)
    if type(plain) is not expected:
        raise LoadError(f"{value!r} is not a valid {tag.removeprefix(_TAG)}", *_mark(node))
    return plain


def iter_paths(data: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    """Every path in `data`, parents before children (used by tests of the position mapping)."""
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from iter_paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from iter_paths(v, (*prefix, i))
