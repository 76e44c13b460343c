"""The schema is spelled once (archive/schema.py); the README's table says the same."""

from __future__ import annotations

import re
from pathlib import Path

from modelexport.archive import schema

README = Path(__file__).resolve().parents[2] / "README.md"
#: Model properties the archive keeps for itself: an add not yet complete, and the map
#: from the model's sidecar offsets to tensor-store blobs.
BOOKKEEPING = {"complete", "tensors"}


def test_the_readme_lists_every_query_property_of_every_label():
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", README.read_text(),
                           re.MULTILINE))
    for label in schema.LABELS:
        documented = set(re.findall(r"`(\w+)`", rows[label]))
        documented -= {"input", "output", "initializer"}  # Value.kind's values
        properties = {name for name, _typ, _src in schema.PROPERTIES[label]} - BOOKKEEPING
        assert documented == properties, label


def test_the_query_help_names_the_schemas_labels_and_relationship_properties():
    from typer.testing import CliRunner

    from modelexport.cli import app

    output = CliRunner().invoke(app, ["archive", "query", "--help"]).output
    text = " ".join(output.replace("│", " ").split())  # rich boxes and wraps the text
    for label in schema.LABELS:
        assert label in text, label
    for rel, props in schema.REL_PROPERTIES.items():
        shown = [name for name, _typ, _src in props if name not in ("gid", "seq", "data")]
        assert f"{rel} ({', '.join(shown)})" in text, rel
