"""The fast JSON writers give exactly the text of the dialect's ``dumps``."""

from __future__ import annotations

import json

import pytest

from modelexport.converter._json import dumps, dumps_ints, dumps_pairs, dumps_strings

# Every character json escapes, the ones it leaves alone, and some past the BMP.
TRICKY = ["", "plain", 'a"b', "back\\slash", "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
          "é ü ß", "\u2028\u2029", "日本語", "\U0001F600", "\ud800 lone", "/a/b:out0"]


def _reference(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize("items", [[], TRICKY, [s * 3 for s in TRICKY]])
def test_lists_of_strings_and_pairs_match_dumps(items):
    assert dumps_strings(items) == _reference(items) == dumps(items)
    pairs = [[a, b] for a, b in zip(items, reversed(items), strict=True)]
    assert dumps_pairs(pairs) == _reference(pairs) == dumps(pairs)


def test_lists_of_ints_match_dumps():
    values = [0, -1, 7, 2**63 - 1, -(2**63), 10**30]
    assert dumps_ints(values) == _reference(values) == dumps(values)
    assert dumps_ints([]) == "[]"
