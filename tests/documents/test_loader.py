from __future__ import annotations

import pytest

from orchrecon.documents.loader import MAX_FILE_BYTES, Document, LoadError, iter_paths, load_text

TEXT = b"""\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: daily, description: "x"}
spec:
  phases:
    - name: extract
      tasks:
        - name: a
          config: ex/a
        -   name: b
            config: ex/b
"""


def _load(raw: bytes) -> Document:
    return load_text("f.yaml", raw)


def _error(raw: bytes) -> LoadError:
    with pytest.raises(LoadError) as info:
        _load(raw)
    return info.value


def test_position_of_values_keys_and_list_items() -> None:
    doc = _load(TEXT)
    assert doc.position(("metadata", "name")) == (3, 18)
    assert doc.position(("metadata", "name"), key=True) == (3, 12)
    assert doc.position(("spec", "phases", 0, "tasks", 1)) == (10, 13)
    assert doc.position(("spec", "phases", 0, "tasks", 1, "config")) == (11, 21)


def test_position_of_missing_path_is_deepest_existing_node() -> None:
    doc = _load(TEXT)
    assert doc.position(("spec", "phases", 0, "missing")) == (6, 7)
    assert doc.position(("spec", "phases", 7)) == (6, 5)
    assert doc.position(()) == (1, 1)


def test_every_path_maps_to_a_position_inside_the_file() -> None:
    doc = _load(TEXT)
    lines = TEXT.decode().splitlines()
    for path in iter_paths(doc.data):
        line, col = doc.position(path)
        assert 1 <= line <= len(lines)
        assert col <= len(lines[line - 1])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("on", "on"),
        ("yes", "yes"),
        ("Off", "Off"),
        ("012", "012"),
        ("6:30", "6:30"),
        ("2026-01-01", "2026-01-01"),
        ("1_000", "1_000"),
        ("0x1F", "0x1F"),
        ("true", True),
        ("FALSE", False),
        ("12", 12),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("~", None),
        ("", None),
        ("'12'", "12"),
        ('"true"', "true"),
        ("!!str 12", "12"),
        ("!!float 2", 2.0),
    ],
)
def test_scalars_resolve_like_yaml_1_2_core_and_nothing_more(text: str, value: object) -> None:
    assert _load(f"v: {text}\n".encode()).data["v"] == value


def test_keys_stay_strings() -> None:
    assert _load(b"on: 1\n12: 2\n").data == {"on": 1, "12": 2}


@pytest.mark.parametrize(
    ("raw", "line", "col", "message"),
    [
        (b"a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at line 1)"),
        (b"a: &x [1]\nb: *x\n", 2, 1, "YAML aliases are not allowed: 'b' repeats the anchored value of line 1"),
        (b"a: [&x 1, *x]\n", 1, 4, "YAML aliases are not allowed: item 2 repeats the anchored value of line 1"),
        (b"a: 1\n---\nb: 2\n", 2, 1, "invalid YAML: a file holds exactly one document; a second one starts here"),
        (b"- a\n", 1, 1, "the top level must be a mapping with apiVersion and kind"),
        (b"", 1, 1, "file holds no document; expected a mapping with apiVersion and kind"),
        (b"a: !!python/object:os.system x\n", 1, 4, "unsupported YAML tag '!!python/object:os.system'"),
        (b"a:\n  <<: {b: 1}\n", 2, 3, "YAML merge keys (<<) are not allowed; write the keys out"),
        (b"a: ok\nb: \xff\n", 2, 4, "invalid UTF-8 (byte 0xff); documents must be UTF-8"),
        (b"a: !!int x\n", 1, 4, "'x' is not a valid int"),
        (b"? [a]\n: 1\n", 1, 3, "mapping keys must be plain strings, not collections or aliases"),
    ],
)
def test_refusals_are_positioned(raw: bytes, line: int, col: int, message: str) -> None:
    error = _error(raw)
    assert (error.line, error.col, error.message) == (line, col, message)


def test_billion_laughs_is_refused_without_expanding() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    error = _error(("\n".join(lines) + "\n").encode())
    assert "aliases" in error.message


@pytest.mark.parametrize(
    "raw",
    [
        b"a: " + b"[" * 100_000,
        b"p:\n  " + b"- " * 300_000 + b"1\n",  # crashed libyaml's recursive composer (C stack)
        b"a: " + b'["]",' * 100_000 + b"1" + b"]" * 100_000,  # brackets in strings do not hide depth
    ],
)
def test_deep_nesting_is_refused_without_recursing(raw: bytes) -> None:
    error = _error(raw)
    assert error.message == "nesting deeper than 64 levels"
    assert error.line <= 2


def test_brackets_in_strings_and_comments_are_not_nesting() -> None:
    text = "# " + "{" * 5000 + "\nv: '" + "[" * 5000 + "'\n"
    assert _load(text.encode()).data == {"v": "[" * 5000}


def test_nesting_at_the_limit_is_accepted() -> None:
    assert _load(b"a: " + b"[" * 63 + b"]" * 63 + b"\n").data["a"] is not None


def test_control_characters_are_positioned() -> None:
    error = _error(b"a: 1\nb: x\x00y\n")
    assert (error.line, error.col, error.message) == (2, 5, "control character 0x00 is not allowed in YAML")


def test_tabs_get_a_plain_message() -> None:
    assert _error(b"a:\n\tb: 1\n").message == "invalid YAML: tabs cannot indent YAML; use spaces"


def test_deep_block_nesting_is_refused() -> None:
    text = "".join(f"{'  ' * i}k:\n" for i in range(80)) + "  " * 80 + "v: 1\n"
    assert _error(text.encode()).message == "nesting deeper than 64 levels"


def test_oversized_file_is_refused() -> None:
    error = _error(b"a: " + b"x" * MAX_FILE_BYTES)
    assert error.message.startswith("file is 1048579 bytes; documents are limited to")


def test_byte_order_mark_is_accepted() -> None:
    assert _load(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_syntax_error_points_at_the_problem() -> None:
    error = _error(b"a: [1, 2\nb: 3\n")
    assert error.line == 2
    assert error.message.startswith("invalid YAML:")
