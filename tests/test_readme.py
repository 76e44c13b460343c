"""Every code block of the README runs as written, from a scratch directory.

A new user copies the README's examples into a shell or a Python prompt in a directory
of their own, with the repository's ``samples/`` beside them. This test does the same:
it extracts every ```sh and ```python block, in README order, and runs it in a scratch
directory holding a link to ``samples/`` (so later blocks see what earlier ones wrote).
Shell lines run through bash with the checkout's ``modelexport`` first on PATH; Python
blocks run through this interpreter.

A block right after ``<!-- readme-test: new directory -->`` needs nothing an earlier
block wrote: it and the blocks after it (up to the next such mark) run in a scratch
directory of their own, as a separate test, so the test workers can share them out.

Two markers let the README say honestly what is not run here, and the test reports
them as skipped lines rather than hiding them:

- a block right after ``<!-- readme-test: skip (REASON) -->`` is not run;
- a shell line whose trailing comment says ``(needs the network)`` is not run (the
  model hub is unreachable from tests).

Exports are what these blocks spend their time on, so two kinds of export line are
not run again, and the test lists them:

- The README repeats an export in a later section so that each section can be copied
  on its own; a ``modelexport export`` line run already, whose output file still has
  the bytes it wrote, is not run again (an export of the same model is the same bytes,
  which tests/converter/test_output_bytes.py pins).
- A plain ``modelexport export samples/NAME OUT.onnx`` (no options) gives the bytes of
  the test run's shared export of that sample (tests/conftest.py's ``exported_sample``;
  tests/modelexport/test_export_cmd.py checks that the command gives those bytes): the
  line is replaced by a copy of that file, so it fails as the export would when the
  output's folder is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP_BLOCK = re.compile(r"<!--\s*readme-test:\s*skip\s*\((.+?)\)\s*-->")
_NEW_DIRECTORY = re.compile(r"<!--\s*readme-test:\s*new directory\s*-->")
_NEEDS_NETWORK = "(needs the network)"


@dataclass
class Block:
    language: str
    line: int  # 1-based line of the opening fence
    code: str
    skip_reason: str | None = None
    new_directory: bool = False  # needs nothing an earlier block wrote
    skipped_lines: list[str] = field(default_factory=list)
    repeated_lines: list[str] = field(default_factory=list)
    shared_lines: list[str] = field(default_factory=list)


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
                            marker.group(1) if marker else None,
                            bool(_NEW_DIRECTORY.search(before))))
        i += 1
    return blocks


def runnable_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text(encoding="utf-8"))
            if b.language in ("sh", "python")]


def readme_runs(blocks: list[Block]) -> list[list[Block]]:
    """``blocks`` cut before each one marked as needing a new directory: each run of
    blocks goes in README order in one scratch directory."""
    runs: list[list[Block]] = []
    for block in blocks:
        if block.new_directory or not runs:
            runs.append([])
        runs[-1].append(block)
    return runs


def _shell_script(block: Block, exported: dict[str, str] | None = None,
                  scratch: Path | None = None,
                  shared_export: Callable[[str], Path] | None = None) -> str:
    """``block`` as a bash script, without its network lines and, given the ``exported``
    record of a scratch directory, without exports whose output is there already; given
    ``shared_export`` (sample name → its export), a plain export of a sample copies that."""
    kept = []
    for line in block.code.splitlines():
        if _NEEDS_NETWORK in line.partition("#")[2]:
            block.skipped_lines.append(line)
        elif exported is not None and scratch is not None and _exported_already(
                line, exported, scratch):
            block.repeated_lines.append(line)
        elif shared_export is not None and (sample := _plain_sample_export(line)):
            block.shared_lines.append(line)
            source = shlex.quote(str(shared_export(sample)))
            kept.append(f"cp {source} {shlex.quote(_export_output(line) or '')}")
        else:
            kept.append(line)
    return "set -euo pipefail\n" + "\n".join(kept) + "\n"


def _plain_sample_export(line: str) -> str | None:
    """NAME of a ``modelexport export samples/NAME OUT`` without options, else None."""
    if _export_output(line) is None:
        return None
    words = shlex.split(line, comments=True)
    source = words[2].rstrip("/")
    if len(words) != 4 or not source.startswith("samples/") or source.count("/") != 1:
        return None
    return source.removeprefix("samples/")


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


def test_runs_are_cut_before_each_block_marked_as_needing_a_new_directory():
    blocks = readme_blocks("```sh\na\n```\n<!-- readme-test: new directory -->\n```sh\nb\n"
                           "```\n```python\nc\n```\n\n<!-- readme-test: new directory -->"
                           "\n\n```sh\nd\n```\n")
    assert [[b.code for b in run] for run in readme_runs(blocks)] == [
        ["a\n"], ["b\n", "c\n"], ["d\n"]]
    assert len(readme_runs(runnable_blocks())) > 1  # the README's marks are found


def test_a_plain_export_of_a_sample_copies_the_shared_export_and_nothing_else_does(
        tmp_path):
    lines = ["modelexport export samples/bert-tiny out/bert.onnx   # plain",
             "modelexport export samples/bert-tiny out/b.onnx --input-text hi",
             "modelexport export out/gpt2-relu out/gpt2-relu.onnx",
             "modelexport export samples/gpt2-tiny/ out/gpt2.onnx"]
    block = Block("sh", 1, "\n".join(lines) + "\n")
    script = _shell_script(block, {}, tmp_path, lambda name: tmp_path / f"{name}.onnx")
    assert block.shared_lines == [lines[0], lines[3]]
    assert script.splitlines()[1:] == [
        f"cp {tmp_path / 'bert-tiny.onnx'} out/bert.onnx", lines[1], lines[2],
        f"cp {tmp_path / 'gpt2-tiny.onnx'} out/gpt2.onnx"]


@pytest.mark.slow(first=True)  # together, the longest tests of the suite
@pytest.mark.parametrize("run", readme_runs(runnable_blocks()),
                         ids=lambda run: f"from-line-{run[0].line}")
def test_every_readme_code_block_runs_as_written_from_a_scratch_directory(
        tmp_path, run, exported_sample):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    skipped = []
    exported: dict[str, str] = {}
    for block in run:
        if block.skip_reason is not None:
            skipped.append(f"README line {block.line}: {block.skip_reason}")
            continue
        if block.language == "sh":
            cmd = ["bash", "-c", _shell_script(block, exported, tmp_path, exported_sample)]
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
        skipped.extend(f"README line {block.line}: {line.strip()} (copied: the run's shared "
                       "export of that sample)" for line in block.shared_lines)
        skipped.extend(f"README line {block.line}: {line.strip()}"
                       for line in block.skipped_lines)
    # What was not run is said, and only the marked things were left out.
    for entry in skipped:
        print(f"not run: {entry}")
