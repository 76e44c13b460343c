"""The tools people read code with resolve every ``modelexport.*`` import (SPEC §2).

After the README's set-up (``pip install -e ".[torch,test]"``), pyright and jedi must find
every module and name the package imports, from a file outside the checkout (a user's
script) and from the package folders inside it (a maintainer's editor). The import
names are made real on disk by links (``modelexport/converter -> ../converter``, and
``src/modelexport -> ../modelexport`` for the editable install's static ``.pth``):
no import hook that static tools cannot follow.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jedi
import pytest
from project import ROOT, installed_packages, project_modules

pytestmark = pytest.mark.slow  # pyright starts node and reads torch's stubs: seconds


def modelexport_imports() -> list[str]:
    """Every ``modelexport.*`` import statement of the package's source, one per name."""
    lines: set[str] = set()
    for path in project_modules().values():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                lines.update(f"import {a.name}" for a in node.names
                             if a.name.split(".")[0] == "modelexport")
            elif (isinstance(node, ast.ImportFrom) and node.module
                  and node.module.split(".")[0] == "modelexport"):
                lines.update(f"from {node.module} import {a.name}" for a in node.names)
    return sorted(lines)


def unresolved(cwd: Path, files: list[Path]) -> tuple[int, list[str]]:
    """Files pyright analysed from ``cwd``, and its findings about imports."""
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    assert pyright, "pyright is in the test extra: pip install -e '.[test]'"
    out = subprocess.run([pyright, "--outputjson", "--pythonpath", sys.executable,
                          *map(str, files)], cwd=cwd, capture_output=True, text=True)
    assert out.stdout.lstrip().startswith("{"), out.stdout + out.stderr
    report = json.loads(out.stdout)
    problems = [f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
                for d in report["generalDiagnostics"]
                if d.get("rule") in ("reportMissingImports", "reportAttributeAccessIssue",
                                     "reportMissingModuleSource")]
    return report["summary"]["filesAnalyzed"], problems


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    """A script outside the checkout making every import the package makes."""
    path = tmp_path_factory.mktemp("outside") / "probe.py"
    path.write_text("\n".join(modelexport_imports()) + "\n")
    return path


def test_the_probe_covers_every_package():
    text = "\n".join(modelexport_imports())
    for package in installed_packages():
        if package != "modelexport":
            assert f"{package} import" in text or f"{package}." in text, package


def test_pyright_resolves_every_import_from_a_file_outside_the_checkout(probe):
    analysed, problems = unresolved(probe.parent, [probe])
    assert analysed == 1 and problems == []


def test_pyright_resolves_every_import_inside_the_package_folders(probe):
    # From the checkout, pyright searches the checkout's root first: there the real
    # modelexport/ folder must hold converter/, graphml/, ... (the links) too.
    inits = [folder / "__init__.py" for folder in installed_packages().values()]
    analysed, problems = unresolved(ROOT, [probe, *inits])
    assert analysed == 1 + len(inits) and problems == []


def _goto(script: jedi.Script, line: str, lineno: int) -> list[Path]:
    """Where jedi's go-to-definition on the last name of ``line`` leads."""
    found = script.goto(lineno, len(line) - 1, follow_imports=True)
    return [Path(d.module_path).resolve() for d in found if d.module_path is not None]


def test_jedi_goes_to_the_definitions_from_outside_the_checkout(probe):
    cases = {
        "from modelexport.converter import onnx_to_graphml": ROOT / "converter" / "_files.py",
        "from modelexport.graphml import read_graphml": ROOT / "graphml" / "reader.py",
        "from modelexport.archive import open_archive": ROOT / "archive" / "core.py",
        "from modelexport import ModelExportError": ROOT / "graphml" / "errors.py",
        "from modelexport.analysis import save_model": ROOT / "modelexport" / "analysis"
        / "_output.py",
    }
    source = "\n".join(cases) + "\n"
    project = jedi.Project(probe.parent, environment_path=sys.prefix)
    script = jedi.Script(source, path=probe.parent / "nav.py", project=project)
    found = {line: _goto(script, line, i) for i, line in enumerate(cases, 1)}
    assert found == {line: [target] for line, target in cases.items()}


def test_jedi_goes_to_the_definitions_inside_the_package_folders():
    project = jedi.Project(ROOT, environment_path=sys.prefix)  # adds the checkout's root
    for path in (ROOT / "archive" / "core.py", ROOT / "modelexport" / "exporter.py"):
        source = path.read_text()
        lines = [(i, line) for i, line in enumerate(source.splitlines(), 1)
                 if line.startswith("from modelexport") and "(" not in line and "#" not in line]
        assert len(lines) >= 3, path
        script = jedi.Script(source, path=path, project=project)
        missing = [line for i, line in lines if not _goto(script, line, i)]
        assert missing == [], path
