"""``archive diff``: compare's answer from the archive, and its refusals (one line, exit 1)."""

from __future__ import annotations

import json

import numpy as np
from archive_models import chain_model, random_weights, save
from typer.testing import CliRunner

from modelexport.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_archive_diff_answers_as_compare_does_on_the_files_and_refuses_unknown_names(tmp_path):
    weights = random_weights(3, 8)
    a = save(chain_model(weights), tmp_path / "a.onnx")
    changed = [w.copy() for w in weights]
    changed[1][0, 0] += np.float32(1)
    b = save(chain_model(changed), tmp_path / "b.onnx")
    db = tmp_path / "models.lbdb"
    for path in (a, b):
        assert invoke("archive", "add", db, path).exit_code == 0
    from_archive = json.loads(invoke("archive", "diff", db, "a", "b", "--json").output)
    assert from_archive == json.loads(invoke("compare", a, b, "--json").output)
    changed_modules = {m["tag"]: m["params_changed"] for m in from_archive["modules"]
                       if m["status"] != "same"}
    assert changed_modules == {"/Net/Layer.1": ["layer.1.weight"]}
    same = invoke("archive", "diff", db, "a", "a")
    assert same.exit_code == 0 and same.output.startswith("the two models are identical")

    unknown = invoke("archive", "diff", db, "a", "nope")  # refused in one line, exit 1
    assert unknown.exit_code == 1 and "no model named 'nope'" in unknown.output
    assert len(unknown.output.strip().splitlines()) == 1
