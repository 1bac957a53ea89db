from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._envfile import (
    format_value,
    mask_text,
    parse,
    set_keys,
)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=********"),
        ("export API_TOKEN='abc def'", "export API_TOKEN=********"),
        ("  secret_key: xyz", "  secret_key: ********"),
        ("STRIPE_KEY=", "STRIPE_KEY="),
        ("DATABASE_URL=postgres://app:s3cr3t@db/app", "DATABASE_URL=postgres://app:********@db/app"),
        ("ENABLE_NEW_PAYMENT_FLOW=true", "ENABLE_NEW_PAYMENT_FLOW=true"),
        ("# PASSWORD is set below", "# PASSWORD is set below"),
    ],
)
def test_mask_text(line, masked):
    assert mask_text(line + "\n") == masked + "\n"


def test_set_keys_keeps_lines_comments_and_formatting():
    text = '# flags\nexport A=1\nB="two words"\nC=3 # inline\n'
    new, changed = set_keys(text, {"A": 1, "B": "two words", "C": "4", "D": False})
    assert changed == ["C", "D"]
    assert new == '# flags\nexport A=1\nB="two words"\nC=4\nD=false\n'
    again, changed = set_keys(new, {"A": 1, "B": "two words", "C": "4", "D": False})
    assert (again, changed) == (new, [])


def test_set_keys_on_a_file_without_trailing_newline():
    assert set_keys("A=1", {"B": "x y"}) == ('A=1\nB="x y"\n', ["B"])


def test_parse_and_quote_round_trip():
    value = 'say "hi" $HOME\\n'
    text = "V=%s\n" % format_value(value)
    assert parse(text) == {"V": value}
    assert parse("export X='a b'\n# c\nY=2 # note\n") == {"X": "a b", "Y": "2"}
