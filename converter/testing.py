"""Compare ONNX models and say exactly what differs.

``diff_models(a, b)`` lists differences as field paths with both values, e.g.
``graph.node[12].attribute['axis'].i: 1 != 2``; ``assert_models_equal`` fails a test
with that list. What ``import-onnx --validate`` runs is in
:mod:`modelexport.converter.verification`.
"""

from __future__ import annotations

import math
from typing import Any

_MAX_DIFFS = 50


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>" if len(value) > 32 else repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _shown(fd: Any, value: Any) -> str:
    """A field set on one side only: its value, or just ``message`` for a single message."""
    return "message" if fd.type == fd.TYPE_MESSAGE and not fd.is_repeated else _show(value)


def _same_scalar(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if len(out) >= _MAX_DIFFS:
        return
    fa = {fd.name: (fd, v) for fd, v in a.ListFields()}
    fb = {fd.name: (fd, v) for fd, v in b.ListFields()}
    for fd in a.DESCRIPTOR.fields:
        name = fd.name
        if name not in fa and name not in fb:
            continue
        where = f"{path}.{name}" if path else name
        if name not in fb:
            out.append(f"{where}: set in the first model only ({_shown(fd, fa[name][1])})")
            continue
        if name not in fa:
            out.append(f"{where}: set in the second model only ({_shown(fd, fb[name][1])})")
            continue
        va, vb = fa[name][1], fb[name][1]
        if fd.is_repeated:
            if fd.type == fd.TYPE_MESSAGE:
                if len(va) != len(vb):
                    out.append(f"{where}: {len(va)} entries != {len(vb)}")
                keyed = name == "attribute"
                for i, (x, y) in enumerate(zip(va, vb, strict=False)):
                    label = f"[{x.name!r}]" if keyed and x.name == y.name else f"[{i}]"
                    _diff(x, y, where + label, out)
            else:
                if len(va) != len(vb):
                    out.append(f"{where}: {len(va)} values != {len(vb)}")
                else:
                    for i, (x, y) in enumerate(zip(va, vb, strict=True)):
                        if not _same_scalar(x, y):
                            out.append(f"{where}[{i}]: {_show(x)} != {_show(y)}")
                            break
        elif fd.type == fd.TYPE_MESSAGE:
            _diff(va, vb, where, out)
        elif isinstance(va, bytes) and va != vb:
            at = next(
                (i for i, (x, y) in enumerate(zip(va, vb, strict=False)) if x != y),
                min(len(va), len(vb)),
            )
            out.append(f"{where}: bytes differ at byte {at} ({len(va)} bytes vs {len(vb)})")
        elif not isinstance(va, bytes) and not _same_scalar(va, vb):
            out.append(f"{where}: {_show(va)} != {_show(vb)}")


def diff_models(a: Any, b: Any) -> list[str]:
    """Every difference between two protobuf messages (ModelProtos), as field paths.

    Empty when the two serialize to the same bytes. Field presence counts: a field
    set to its default value differs from one left unset.
    """
    if a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True):
        return []
    out: list[str] = []
    _diff(a, b, "", out)
    if not out:
        out.append("the serialized bytes differ, but no field does (unknown fields?)")
    return out


def assert_models_equal(a: Any, b: Any) -> None:
    """Fail with the list of differences unless ``a`` and ``b`` are the same model."""
    diffs = diff_models(a, b)
    if diffs:
        raise AssertionError("models differ:\n  " + "\n  ".join(diffs))
