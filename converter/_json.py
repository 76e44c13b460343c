"""The compact, deterministic JSON the dialect stores lists and records in.

``json.dumps`` with no spaces, no ASCII escaping and no NaN (non-finite floats are
spelt by :mod:`~modelexport.converter._protojson`), plus faster writers of the same
text for the shapes that dominate big graphs (lists of names, of ints, of pairs).
"""

from __future__ import annotations

import json
from _json import encode_basestring as _quote  # json's C quoting: what _ENCODER does to a str
from typing import Any

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """Compact, deterministic JSON, as the dialect stores lists and records."""
    return _ENCODER.encode(value)


def dumps_strings(items: list[str]) -> str:
    """``dumps`` of a list of str, the same text, several times faster."""
    return "[" + ",".join(map(_quote, items)) + "]"


def dumps_ints(values: list[int]) -> str:
    """``dumps`` of a list of ints, faster."""
    return "[" + ",".join(map(str, values)) + "]"


def dumps_pairs(pairs: list[list[str]]) -> str:
    """``dumps`` of [[key, value], ...] of str."""
    return "[" + ",".join(f"[{_quote(k)},{_quote(v)}]" for k, v in pairs) + "]"
