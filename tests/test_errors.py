from __future__ import annotations

from orchrecon.errors import Diagnostic, printable


def test_printable_escapes_what_a_terminal_would_act_on_and_keeps_the_rest() -> None:
    assert printable("orchestrations/daily.yaml") == "orchestrations/daily.yaml"
    assert printable("a\nb\tc\x1b[2J\x00") == "a\\nb\\tc\\x1b[2J\\x00"
    assert printable("evil\u202egnp.yaml") == "evil\\u202egnp.yaml"  # a bidi override reorders what follows
    assert printable("ventes é 日本 a b") == "ventes é 日本 a b"


def test_a_diagnostic_renders_on_one_line_whatever_its_file_and_message_hold() -> None:
    d = Diagnostic(file="orchestrations/a\nb.yaml", line=2, col=3, message="bad\rvalue")
    assert d.render() == "orchestrations/a\\nb.yaml:2:3: error: bad\\rvalue [$]"
