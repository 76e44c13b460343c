"""The project's architectural rules, checked on the source itself.

Dependencies point one way (graphml ← converter ← archive ← modelexport), heavy libraries stay
where they are needed, and no product code knows a model family.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from project import ROOT, top_folders

# The top-level folders pyproject installs (all import as modelexport.*).
PRODUCT_PACKAGES = tuple(top_folders())

# Imports each package may not make, at module level or inside functions.
FORBIDDEN = {
    "schemas": {"onnx", "onnxruntime", "torch", "transformers", "numpy", "graphml",
                "converter", "archive", "modelexport"},
    "graphml": {"onnx", "onnxruntime", "torch", "transformers", "converter", "archive",
                "modelexport", "numpy"},
    "converter": {"torch", "transformers", "modelexport", "archive"},
    "archive": {"torch", "transformers", "modelexport"},
    "modelexport": set(),
}


def test_every_installed_folder_has_layering_rules():
    assert set(PRODUCT_PACKAGES) == set(FORBIDDEN)

FAMILY_WORDS = re.compile(
    r"\b(bert|gpt2?|llama|t5|resnet|vit|whisper|encoder|decoder|attention|embeddings?|pooler)\b",
    re.IGNORECASE,
)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _layer(dotted: str) -> str:
    """The layer a dotted import name belongs to: our packages by their design-card
    folder (``modelexport.converter.tags`` → ``converter``), others by their root."""
    parts = dotted.split(".")
    if parts[0] == "modelexport" and len(parts) > 1 and parts[1] in PRODUCT_PACKAGES:
        return parts[1]
    return parts[0]


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(_layer(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: use absolute imports (modelexport.…)"
            if node.module == "modelexport":
                roots.update(_layer(f"modelexport.{alias.name}") for alias in node.names)
            else:
                roots.add(_layer(node.module))
    return roots


@pytest.mark.parametrize("package", PRODUCT_PACKAGES)
def test_each_package_imports_only_what_its_layer_allows(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN[package])
        for path in _sources(package)
    }
    assert {p: bad for p, bad in offenders.items() if bad} == {}


def test_torch_and_transformers_are_imported_only_under_modelexport():
    for package in set(PRODUCT_PACKAGES) - {"modelexport"}:
        for path in _sources(package):
            assert not _imported_roots(path) & {"torch", "transformers"}, path


def test_product_code_names_no_model_family_or_module_kind():
    hits = [
        f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}"
        for package in PRODUCT_PACKAGES
        for path in _sources(package)
        for lineno, line in enumerate(path.read_text().splitlines(), 1)
        if FAMILY_WORDS.search(line)
    ]
    assert hits == []


def test_importing_the_cli_loads_neither_torch_nor_onnxruntime():
    code = (
        "import sys, modelexport.cli; "
        "print(sorted(m for m in ('torch', 'transformers', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_graphviz_is_loaded_only_when_a_layout_or_picture_is_made():
    # graphml may use pygraphviz (the layout engine), lazily: reading, validating and
    # --help never pay for it.
    code = "import sys, modelexport.graphml, modelexport.cli; print('pygraphviz' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
