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
"""

from __future__ import annotations

import os
import re
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


def _shell_script(block: Block) -> str:
    kept = []
    for line in block.code.splitlines():
        if _NEEDS_NETWORK in line.partition("#")[2]:
            block.skipped_lines.append(line)
        else:
            kept.append(line)
    return "set -euo pipefail\n" + "\n".join(kept) + "\n"


def test_the_readme_marks_are_understood():
    blocks = readme_blocks("intro\n<!-- readme-test: skip (sets up the checkout) -->\n"
                           "```sh\nmake demo\n```\n\n```python\nprint(1)\n```\n```\nart\n```\n")
    assert [(b.language, b.skip_reason) for b in blocks] == [
        ("sh", "sets up the checkout"), ("python", None), ("", None)]
    block = Block("sh", 1, "modelexport a b\nmodelexport hub/x y   # a hub id (needs the "
                  "network)\n")
    assert "hub/x" not in _shell_script(block)
    assert block.skipped_lines == ["modelexport hub/x y   # a hub id (needs the network)"]


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


@pytest.mark.slow
def test_every_readme_code_block_runs_as_written_from_a_scratch_directory(tmp_path):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    skipped = []
    for block in runnable_blocks():
        if block.skip_reason is not None:
            skipped.append(f"README line {block.line}: {block.skip_reason}")
            continue
        if block.language == "sh":
            cmd = ["bash", "-c", _shell_script(block)]
        else:
            cmd = [sys.executable, "-c", block.code]
        result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, (
            f"README block at line {block.line} ({block.language}) failed:\n{block.code}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}")
        assert "Traceback" not in result.stderr, result.stderr
        skipped.extend(f"README line {block.line}: {line.strip()}"
                       for line in block.skipped_lines)
    # What was not run is said, and only the marked things were left out.
    for entry in skipped:
        print(f"not run: {entry}")
