from __future__ import annotations

from orchrecon.fanout import load_many
from orchrecon.loader import Document, LoadError
from orchrecon.validation import validate_files
from tests.builders import CONFIG, ORCHESTRATION


def _files(count: int) -> dict[str, bytes]:
    files = {"configurations/ex/a.yaml": CONFIG.format(component="ex", name="a", table="t.a").encode()}
    for i in range(count):
        files[f"orchestrations/o{i}.yaml"] = ORCHESTRATION.format(name=f"o{i}", config="ex/a").encode()
    files["orchestrations/o7.yaml"] = b"apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: o7}\n"
    files["orchestrations/o9.yaml"] = b"a: [1\n"
    return files


def test_parallel_loading_gives_the_same_documents_and_errors() -> None:
    items = sorted(_files(40).items())
    one, two = load_many(items, workers=1), load_many(items, workers=2)
    assert [type(x) for x in one] == [type(x) for x in two]
    for a, b in zip(one, two, strict=True):
        if isinstance(a, LoadError) and isinstance(b, LoadError):
            assert (a.message, a.line, a.col, a.path) == (b.message, b.line, b.col, b.path)
        else:
            assert isinstance(a, Document)
            assert isinstance(b, Document)
            assert (a.file, a.data, a.position(("metadata", "name"))) == (
                b.file,
                b.data,
                b.position(("metadata", "name")),
            )


def test_validation_is_the_same_in_parallel() -> None:
    files = _files(40)
    one, two = validate_files(files, workers=1), validate_files(files, workers=2)
    assert [d.render() for d in one.diagnostics] == [d.render() for d in two.diagnostics]
    assert sorted(one.orchestrations) == sorted(two.orchestrations)
    assert "orchestrations/o7.yaml:1:1: error: missing required property 'spec' [$]" in [d.render() for d in two.errors]
