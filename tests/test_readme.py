"""Every code block of the README runs as written, from a scratch directory.

A new user copies the README's examples into a shell or a Python prompt in a directory
of their own, with the repository's ``samples/`` beside them. This test does the same:
it extracts every ```sh and ```python block, in README order, and runs it in one scratch
directory holding a link to ``samples/`` (so later blocks see what earlier ones wrote).
Shell lines run through bash with the checkout's ``modelexport`` first on PATH; Python
blocks run through this interpreter.

Two markers let the README say honestly what is not run here, and the test reports
them as skipped lines rather than hiding them:

- a block right after ``<!-- readme-test: skip (REASON) -->`` is not run;
- a shell line whose trailing comment says ``(needs the network)`` is not run (the
  model hub is unreachable from tests).

The README repeats an export in a later section so that each section can be copied on
its own; a ``modelexport export`` line run already, whose output file still has the
bytes it wrote, is not run again (an export of the same model is the same bytes,
which tests/converter/test_output_bytes.py pins).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP_BLOCK = re.compile(r"<!--\s*readme-test:\s*skip\s*\((.+?)\)\s*-->")
_NEEDS_NETWORK = "(needs the network)"


@dataclass
class Block:
    language: str
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None = None
    skipped_lines: list[str] = field(default_factory=list)
    repeated_lines: list[str] = field(default_factory=list)


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of ``text`` with their language, position and skip marks."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        marker = _SKIP_BLOCK.search(before)
        blocks.append(Block(opening.group(1), start + 1, "\n".join(body) + "\n",
                            marker.group(1) if marker else None))
        i += 1
    return blocks


def runnable_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text(encoding="utf-8"))
            if b.language in ("sh", "python")]


def _shell_script(block: Block, exported: dict[str, str] | None = None,
                  scratch: Path | None = None) -> str:
    """``block`` as a bash script, without its network lines and, given the ``exported``
    record of a scratch directory, without exports whose output is there already."""
    kept = []
    for line in block.code.splitlines():
        if _NEEDS_NETWORK in line.partition("#")[2]:
            block.skipped_lines.append(line)
        elif exported is not None and scratch is not None and _exported_already(
                line, exported, scratch):
            block.repeated_lines.append(line)
        else:
            kept.append(line)
    return "set -euo pipefail\n" + "\n".join(kept) + "\n"


def _export_output(line: str) -> str | None:
    """The output path of a one-line ``modelexport export SOURCE OUT ...``, else None."""
    if not line.startswith("modelexport export ") or line.rstrip().endswith("\\"):
        return None
    words = shlex.split(line, comments=True)
    return words[3] if len(words) > 3 else None


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _exported_already(line: str, exported: dict[str, str], scratch: Path) -> bool:
    out = _export_output(line)
    return out is not None and line in exported and exported[line] == _digest(scratch / out)


def _record_exports(block: Block, exported: dict[str, str], scratch: Path) -> None:
    for line in block.code.splitlines():
        out = _export_output(line)
        if out is not None and line not in block.skipped_lines:
            if (digest := _digest(scratch / out)) is not None:
                exported[line] = digest


def test_the_readme_marks_are_understood():
    blocks = readme_blocks("intro\n<!-- readme-test: skip (sets up the checkout) -->\n"
                           "```sh\nmake demo\n```\n\n```python\nprint(1)\n```\n```\nart\n```\n")
    assert [(b.language, b.skip_reason) for b in blocks] == [
        ("sh", "sets up the checkout"), ("python", None), ("", None)]
    block = Block("sh", 1, "modelexport a b\nmodelexport hub/x y   # a hub id (needs the "
                  "network)\n")
    assert "hub/x" not in _shell_script(block)
    assert block.skipped_lines == ["modelexport hub/x y   # a hub id (needs the network)"]


def test_an_export_the_readme_repeats_runs_again_only_if_its_output_changed(tmp_path):
    line = "modelexport export samples/bert-tiny out/bert.onnx"
    first = Block("sh", 1, f"mkdir -p out\n{line}\n")
    assert line in _shell_script(first, {}, tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "bert.onnx").write_bytes(b"exported")
    exported: dict[str, str] = {}
    _record_exports(first, exported, tmp_path)
    again = Block("sh", 9, f"{line}\nmodelexport render out/bert.onnx b.png\n")
    script = _shell_script(again, exported, tmp_path)
    assert line not in script and "render" in script and again.repeated_lines == [line]
    (tmp_path / "out" / "bert.onnx").write_bytes(b"changed since")
    assert line in _shell_script(Block("sh", 9, line + "\n"), exported, tmp_path)


def test_every_command_the_readme_lists_has_an_example_that_runs():
    """Each command of the README's table appears in a shell block this file runs (not
    skipped, not needing the network), and a Python block runs too."""
    text = README.read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([a-z][a-z-]*)[ `]", text, re.MULTILINE)
    assert "export" in listed and "archive" in listed  # the table was found
    run = [b for b in runnable_blocks() if b.skip_reason is None]
    shell = "".join(_shell_script(b) for b in run if b.language == "sh")
    used = set(re.findall(r"^modelexport ([a-z][a-z-]*)", shell, re.MULTILINE))
    assert [c for c in listed if c not in used] == []
    assert any(b.language == "python" for b in run)


@pytest.mark.slow(first=True)  # the longest test of the suite
def test_every_readme_code_block_runs_as_written_from_a_scratch_directory(tmp_path):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    skipped = []
    exported: dict[str, str] = {}
    for block in runnable_blocks():
        if block.skip_reason is not None:
            skipped.append(f"README line {block.line}: {block.skip_reason}")
            continue
        if block.language == "sh":
            cmd = ["bash", "-c", _shell_script(block, exported, tmp_path)]
        else:
            cmd = [sys.executable, "-c", block.code]
        result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (
            f"README block at line {block.line} ({block.language}) failed:\n{block.code}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        assert "Traceback" not in result.stderr, result.stderr
        if block.language == "sh":
            _record_exports(block, exported, tmp_path)
        skipped.extend(f"README line {block.line}: {line.strip()} (its output is there)"
                       for line in block.repeated_lines)
        skipped.extend(f"README line {block.line}: {line.strip()}"
                       for line in block.skipped_lines)
    # What was not run is said, and only the marked things were left out.
    for entry in skipped:
        print(f"not run: {entry}")
