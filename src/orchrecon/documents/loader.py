"""YAML files to JSON-like data, keeping the composed node tree for exact source positions.

We compose with libyaml but resolve scalars ourselves: a plain scalar is null, a boolean, an integer
or a float only when spelled like one in YAML 1.2's core schema (`true`, `12`, `1.5`), and stricter
still, a number with a leading zero (`012`) stays a string, as do YAML 1.1's `on`, `yes`, `6:30`
and `2026-01-01`. Aliases are
refused: expanding them is how "billion laughs" documents exhaust memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.reader import ReaderError

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

    def __init__(self, message: str, line: int = 1, col: int = 1, *, path: JsonPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col
        self.path = path


@dataclass(frozen=True, kw_only=True)
class Document:
    """A loaded file: its data, and its text, whose node tree gives positions. The tree is kept from
    parsing, or, for a document loaded in another process, composed again on the first position asked."""

    file: str
    data: dict[str, Any]
    text: str
    _tree: list[yaml.MappingNode] = field(default_factory=list, repr=False, compare=False)

    @property
    def root(self) -> yaml.MappingNode:
        if not self._tree:
            self._tree.append(_compose(self.text))
        return self._tree[0]

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


def load_text(file: str, raw: bytes, *, size: int | None = None) -> Document:
    """Parse one file's bytes into a `Document`; raises `LoadError` with a position. `size` is the
    file's real size when a reader kept only its first MAX_FILE_BYTES + 1 bytes."""
    if len(raw) > MAX_FILE_BYTES:
        total = max(size or 0, len(raw))
        raise LoadError(f"file is {total} bytes; documents are limited to {MAX_FILE_BYTES} bytes (1 MiB)")
    text = _decode(raw)
    try:
        _check_depth(text)
        root = _compose(text)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(text, exc) from None
    except ReaderError as exc:
        raise _reader_error(text, exc) from None
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML: {exc}") from None
    if root is None:
        raise LoadError("file holds no document; expected a mapping with apiVersion and kind")
    if not isinstance(root, yaml.MappingNode):
        raise LoadError("the top level must be a mapping with apiVersion and kind", *_mark(root))
    try:
        data = _Builder().build(root)
    except _NodeError as exc:
        raise LoadError(exc.message, *_mark(exc.node), path=tuple(exc.path)) from None
    return Document(file=file, data=data, text=text, _tree=[root])


def _compose(text: str) -> Any:
    parser = _Parser(text)
    try:
        return parser.get_single_node()
    finally:
        parser.dispose()


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _offset_position(raw, exc.start)
        raise LoadError(f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}); documents must be UTF-8", line, col) from None


def _offset_position(text: str | bytes, offset: int) -> tuple[int, int]:
    newline = "\n" if isinstance(text, str) else b"\n"
    line = text.count(newline, 0, offset) + 1  # type: ignore[arg-type]
    return line, offset - (text.rfind(newline, 0, offset) + 1) + 1  # type: ignore[arg-type]


# Every nesting level needs one of these characters, so a text with few of them cannot be deep.
_NESTING_CHARS = "[{-:?"
_NESTING_SUSPECT = 4096


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before libyaml's composer, which recurses on the C stack
    (tens of thousands of levels crash the process), sees it. libyaml's event parser is iterative, so
    it measures the depth safely; it only runs on texts that could be deep."""
    if sum(text.count(c) for c in _NESTING_CHARS) <= _NESTING_SUSPECT:
        return
    parser = CParser(text)
    try:
        depth = 0
        while (event := parser.get_event()) is not None and not isinstance(event, yaml.StreamEndEvent):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", *_event_mark(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        parser.dispose()


def _event_mark(event: yaml.Event) -> tuple[int, int]:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _yaml_error(text: str, exc: yaml.MarkedYAMLError) -> LoadError:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    opened = exc.context_mark
    if "maximum nesting depth" in f"{exc.context} {exc.problem}":
        # libyaml 0.2.5+ has a depth limit of its own (1,000 levels); same refusal, whichever sees it first.
        problem = f"nesting deeper than {MAX_DEPTH} levels"
        return LoadError(problem, line, col)
    if "expected a single document" in (exc.context or ""):
        problem = "a file holds exactly one document; a second one starts here"
    elif mark is not None and text[mark.index : mark.index + 1] == "\t":
        problem = "tabs cannot indent YAML; use spaces"
    elif exc.context and exc.problem:
        problem = f"{exc.context}: {exc.problem}"
        if opened is not None and exc.context.startswith("while parsing") and opened.line + 1 != line:
            problem += f" (opened at line {opened.line + 1})"
    return LoadError(f"invalid YAML: {problem}", line, col)


def _reader_error(text: str, exc: ReaderError) -> LoadError:
    character = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return LoadError(
        f"control character 0x{ord(character):02x} is not allowed in YAML", *_offset_position(text, exc.position)
    )


class _NodeError(Exception):
    """A refused node; `path` is filled in as the error unwinds through the containers."""

    def __init__(self, message: str, node: yaml.Node, path: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node
        self.path: list[str | int] = path or []


_SEQ_TAGS = frozenset({_IMPLICIT, _TAG + "seq"})
_MAP_TAGS = frozenset({_IMPLICIT, _TAG + "map"})


class _Builder:
    """Turns a node tree into plain data; every node may be used once (no aliases)."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def build(self, root: yaml.MappingNode) -> dict[str, Any]:
        return self._mapping(root, 1)

    def _node(self, node: yaml.Node, depth: int) -> Any:
        """Build `node`, which sits at nesting level `depth` (the top-level mapping is level 1)."""
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if depth > MAX_DEPTH:
            raise _NodeError(f"nesting deeper than {MAX_DEPTH} levels", node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag not in _SEQ_TAGS:
                raise _NodeError(f"unsupported YAML tag {_short_tag(node.tag)!r}", node)
            return self._sequence(node, depth)
        assert isinstance(node, yaml.MappingNode)
        if node.tag not in _MAP_TAGS:
            raise _NodeError(f"unsupported YAML tag {_short_tag(node.tag)!r}", node)
        return self._mapping(node, depth)

    def _sequence(self, node: yaml.SequenceNode, depth: int) -> list[Any]:
        result: list[Any] = []
        seen = self._seen
        for index, child in enumerate(node.value):
            if id(child) in seen:
                line = child.start_mark.line + 1
                message = f"YAML aliases are not allowed: item {index + 1} repeats the anchored value of line {line}"
                raise _NodeError(message, node, [index])
            seen.add(id(child))
            try:  # free unless raised (Python 3.11): the path is only built for an error
                result.append(self._node(child, depth + 1))
            except _NodeError as exc:
                exc.path.insert(0, index)
                raise
        return result

    def _mapping(self, node: yaml.MappingNode, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen = self._seen
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or id(key_node) in seen:
                raise _NodeError("mapping keys must be plain strings, not collections or aliases", key_node)
            seen.add(id(key_node))
            key = key_node.value
            if key in result:
                first = next(k for k, _ in node.value if k.value == key)
                raise _NodeError(f"duplicate key {key!r} (first at line {first.start_mark.line + 1})", key_node)
            if key == "<<" and not key_node.style:
                raise _NodeError("YAML merge keys (<<) are not allowed; write the keys out", key_node)
            if id(value_node) in seen:
                line = value_node.start_mark.line + 1
                message = f"YAML aliases are not allowed: {key!r} repeats the anchored value of line {line}"
                raise _NodeError(message, key_node, [key])
            seen.add(id(value_node))
            try:
                result[key] = self._node(value_node, depth + 1)
            except _NodeError as exc:
                exc.path.insert(0, key)
                raise
        return result


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


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
        raise _NodeError(f"unsupported YAML tag {_short_tag(tag)!r}", node)
    if tag in (_TAG + "str", "!"):
        return value
    plain = _scalar(yaml.ScalarNode(_IMPLICIT, value, node.start_mark, node.end_mark, style=""))
    expected = {_TAG + "int": int, _TAG + "float": float, _TAG + "bool": bool, _TAG + "null": type(None)}[tag]
    if expected is float and type(plain) is int:
        return float(plain)
    if type(plain) is not expected:
        raise _NodeError(f"{value!r} is not a valid {tag.removeprefix(_TAG)}", node)
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
