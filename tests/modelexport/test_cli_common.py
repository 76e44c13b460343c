"""What every command shares (``modelexport.cli._common``): the error table, ``--json``
errors, usage lines, ``--version`` and the wording of counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from modelexport._text import module_counts, plural
from modelexport.cli import app

runner = CliRunner()

# Every command that reads a file, with the arguments it needs around the missing one.
FILE_COMMANDS = {
    "export-graphml": lambda missing, out: ["export-graphml", missing, out / "m.graphml"],
    "import-onnx": lambda missing, out: ["import-onnx", missing, out / "m.onnx"],
    "validate-graphml": lambda missing, out: ["validate-graphml", missing],
    "analyze": lambda missing, out: ["analyze", missing],
    "validate": lambda missing, out: ["validate", missing],
    "compare": lambda missing, out: ["compare", missing, missing],
    "extract": lambda missing, out: ["extract", missing, "--tag", "/M", out / "m.onnx"],
    "fold": lambda missing, out: ["fold", missing, out / "m.onnx"],
    "unfold": lambda missing, out: ["unfold", missing, out / "m.onnx"],
}


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _tiny_onnx(path):
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
         helper.make_node("Relu", ["y"], ["z"], name="relu")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 4])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("command", sorted(FILE_COMMANDS))
def test_a_missing_file_reads_the_same_under_every_command(tmp_path, command):
    missing = tmp_path / "nope.file"
    result = _invoke(*FILE_COMMANDS[command](missing, tmp_path))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {missing}: no such file; check the path"
    assert result.stdout == ""


@pytest.mark.parametrize("command", sorted(FILE_COMMANDS))
def test_json_errors_are_a_json_object_with_an_error_field_on_stdout(tmp_path, command):
    missing = tmp_path / "nope.file"
    result = _invoke(*FILE_COMMANDS[command](missing, tmp_path), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"error": f"{missing}: no such file; check the path"}


def test_export_json_errors_are_json_too(tmp_path):
    result = _invoke("export", tmp_path, tmp_path / "m.onnx", "--json")
    assert result.exit_code == 1
    assert "no config.json" in json.loads(result.stdout)["error"]


def test_validate_graphml_names_a_deleted_sidecar_once_and_where_it_belongs(tmp_path,
                                                                             monkeypatch):
    _tiny_onnx(tmp_path / "m.onnx")
    monkeypatch.chdir(tmp_path)
    assert _invoke("export-graphml", "m.onnx", "m.graphml").exit_code == 0
    (tmp_path / "m.onnxdata").unlink()
    result = _invoke("validate-graphml", "m.graphml")
    assert result.exit_code == 1
    both = result.stdout + result.stderr
    assert both.count("'m.onnxdata' is missing") == 1
    assert f"in {tmp_path.resolve()}" in both and " in .\n" not in both + "\n"
    assert result.stderr.strip() == "error: m.graphml is not valid: 1 finding above"
    as_json = _invoke("validate-graphml", "m.graphml", "--json")
    payload = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and payload["ok"] is False
    assert payload["error"] == "m.graphml is not valid: 1 finding"


def test_version_prints_the_installed_version():
    result = _invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"modelexport {version('modelexport')}\n"


@pytest.mark.parametrize("command, usage", [
    ("export", "export [OPTIONS] MODEL OUT.onnx"),
    ("export-graphml", "export-graphml [OPTIONS] IN.onnx OUT.graphml"),
    ("import-onnx", "import-onnx [OPTIONS] IN.graphml OUT.onnx"),
    ("validate-graphml", "validate-graphml [OPTIONS] IN.graphml"),
    ("analyze", "analyze [OPTIONS] IN.onnx"),
    ("validate", "validate [OPTIONS] IN.onnx"),
    ("compare", "compare [OPTIONS] A.onnx B.onnx"),
    ("extract", "extract [OPTIONS] IN.onnx OUT.onnx"),
    ("fold", "fold [OPTIONS] IN.onnx OUT.onnx"),
    ("unfold", "unfold [OPTIONS] IN.onnx OUT.onnx"),
])
def test_usage_lines_name_the_arguments_plainly(command, usage):
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    assert f"modelexport {usage}" in result.stdout
    assert "{" not in result.stdout.split("\n\n")[0] + result.stdout.splitlines()[1]


def _all_commands(group=None, path=()):
    import typer

    group = group or typer.main.get_command(app)
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _all_commands(command, (*path, name))


@pytest.mark.parametrize("command", list(_all_commands()), ids=" ".join)
def test_help_shows_no_value_type_beside_a_flag(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout


def test_analyze_help_shows_the_output_format_choices():
    result = runner.invoke(app, ["analyze", "--help"], env={"COLUMNS": "160"})
    assert "<summary|detailed|json|csv>" in result.stdout


def test_export_help_shows_the_graphml_file_name_whole_on_a_narrow_terminal():
    result = runner.invoke(app, ["export", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0
    assert "<stem>_hierarchical_graph.graphml" in result.stdout
    assert "…" not in result.stdout


def test_counts_agree_in_number():
    assert plural(1, "module") == "1 module"
    assert plural(2, "output") == "2 outputs"
    assert plural(1234, "node") == "1,234 nodes"
    assert module_counts(18, 13) == "18 modules, 13 holding ops"
    assert module_counts(1, 1) == "1 module, 1 holding ops"


def test_a_one_of_everything_result_says_so_in_the_singular(tmp_path, monkeypatch):
    _tiny_onnx(tmp_path / "m.onnx")
    monkeypatch.chdir(tmp_path)
    graphml = _invoke("export-graphml", "m.onnx", "m.graphml")
    assert graphml.exit_code == 0, graphml.output
    back = _invoke("import-onnx", "m.graphml", "back.onnx")
    assert "1 initializer," in back.stdout, back.stdout
    assert "1 initializers" not in graphml.stdout + back.stdout


# Every command that reads an ONNX model, with the arguments it needs around it.
MODEL_COMMANDS = {
    "analyze": lambda model, out: ["analyze", model],
    "validate": lambda model, out: ["validate", model],
    "compare": lambda model, out: ["compare", model, model],
    "render": lambda model, out: ["render", model, out / "m.svg"],
    "export-graphml": lambda model, out: ["export-graphml", model, out / "m.graphml"],
    "extract": lambda model, out: ["extract", model, "--tag", "/M", out / "m.onnx"],
    "archive add": lambda model, out: ["archive", "add", out / "a.lbdb", model],
}


@pytest.mark.parametrize("command", sorted(MODEL_COMMANDS))
@pytest.mark.parametrize("name, text, kind", [
    ("m_metadata.json", '{"format": "modelexport.metadata", "modules": []}\n', "a JSON file"),
    ("m.textproto", "ir_version: 8\ngraph { name: \"g\" }\n", "a text file"),
])
def test_a_json_or_text_file_given_as_a_model_is_refused_in_one_line(tmp_path, command, name,
                                                                     text, kind):
    given = tmp_path / name
    given.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    result = _invoke(*MODEL_COMMANDS[command](given, out))
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"error: {str(given)!r} is not an ONNX model (it is {kind}); "
                             "give a binary .onnx file\n")
    as_json = _invoke(*MODEL_COMMANDS[command](given, out), "--json")
    assert as_json.exit_code == 1
    assert "is not an ONNX model" in json.loads(as_json.stdout)["error"]


def _registered_commands(typer_app=app, path=()):
    """(command path, typer CommandInfo) of every command, sub-groups included."""
    for info in typer_app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        yield (*path, name), info
    for group in typer_app.registered_groups:
        yield from _registered_commands(group.typer_instance, (*path, group.name
                                                               or group.typer_instance.info.name))


@pytest.mark.parametrize("command, info", list(_registered_commands()),
                         ids=[" ".join(p) for p, _ in _registered_commands()])
def test_ctrl_c_anywhere_in_a_command_exits_130_saying_interrupted(command, info, monkeypatch):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "callback", interrupted)
    monkeypatch.setattr(info, "name", command[-1])
    result = _invoke(*command)
    assert result.exit_code == 130, result.output
    assert result.stderr == "error: interrupted\n"


def test_ctrl_c_while_the_command_line_is_read_exits_130_saying_interrupted(monkeypatch):
    from typer.core import TyperGroup

    def interrupted(self, ctx, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(TyperGroup, "parse_args", interrupted)
    result = _invoke("--version")
    assert result.exit_code == 130, result.output
    assert result.stderr == "error: interrupted\n"


def test_ctrl_c_while_validate_prints_its_report_exits_130(tmp_path, monkeypatch):
    from modelexport.analysis import report as render

    def interrupted(report):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "format_validation", interrupted)
    result = _invoke("validate", _tiny_onnx(tmp_path / "m.onnx"))
    assert result.exit_code == 130, result.output
    assert result.stderr == "error: interrupted\n"


def _relu_chain(path, length):
    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu{i}")
             for i in range(length)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info(f"t{length}", TensorProto.FLOAT, [2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_the_official_schema_on_a_default_file_names_the_limit_and_the_flags_it_needs(
        tmp_path):
    model = _relu_chain(tmp_path / "m.onnx", 80)
    assert _invoke("export-graphml", model, tmp_path / "m.graphml").exit_code == 0
    result = _invoke("validate-graphml", tmp_path / "m.graphml", "--schema", "official")
    assert result.exit_code == 1
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert notes[0].startswith("note: stopped at 50 schema findings (the limit); ")
    assert "--flat --no-yed" in notes[1]
    payload = json.loads(_invoke("validate-graphml", tmp_path / "m.graphml", "--schema",
                                 "official", "--json").stdout)
    assert len(payload["findings"]) == 50 and payload["omitted_findings"] > 0
    assert payload["notes"] == [n.removeprefix("note: ") for n in notes]
    # the file the hint names passes
    flat = tmp_path / "flat.graphml"
    assert _invoke("export-graphml", model, flat, "--flat", "--no-yed").exit_code == 0
    assert _invoke("validate-graphml", flat, "--schema", "official").exit_code == 0


# -- the program, run as a process: Ctrl-C while it loads and while a command imports ----

# Imported first by a process (as sitecustomize): when MODULE is first imported, raises
# KeyboardInterrupt once, as Ctrl-C does wherever it lands: HOW=exec, from code run by
# exec() of a string (a module's dataclasses are made so); HOW=callback, in a weakref
# callback (the import system runs one per module lock), where Python can only print it.
# HOW=signal sends SIGINT itself, and notes in MODULE.imported that the import went on.
_INTERRUPT_ON_IMPORT = '''
import os, signal, sys, weakref

def _interrupt(*_):
    raise KeyboardInterrupt

class _InterruptOnce:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["INTERRUPT_ON_IMPORT"]:
            sys.meta_path.remove(self)
            if os.environ["HOW"] == "exec":
                exec("raise KeyboardInterrupt")
            if os.environ["HOW"] == "signal":
                os.kill(os.getpid(), signal.SIGINT)
                for _ in range(1000):  # bytecodes: where a raised interrupt would land
                    pass
                open(os.environ["INTERRUPT_ON_IMPORT"] + ".imported", "w").close()
                return None
            target = type("Target", (), {})()
            ref = weakref.ref(target, _interrupt)
            del target
        return None

sys.meta_path.insert(0, _InterruptOnce())
'''


def _program_interrupted_on_import(tmp_path, module, *args, how="exec"):
    (tmp_path / "sitecustomize.py").write_text(_INTERRUPT_ON_IMPORT)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "INTERRUPT_ON_IMPORT": module,
           "HOW": how}
    return subprocess.run([sys.executable, "-m", "modelexport", *args], env=env,
                          capture_output=True, text=True, cwd=tmp_path)


def test_ctrl_c_while_a_command_imports_what_it_needs_exits_130_not_by_the_signal(tmp_path):
    """CPython's ``-m`` ends by SIGINT a process that caught a KeyboardInterrupt which
    left exec()'d code, unless the program clears that note: the exit must be 130."""
    run = _program_interrupted_on_import(tmp_path, "modelexport.archive.schema",
                                         "archive", "list", str(tmp_path / "none.lbdb"))
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "error: interrupted\n")


def test_ctrl_c_while_the_program_loads_exits_130_in_one_line(tmp_path):
    run = _program_interrupted_on_import(tmp_path, "modelexport.cli._common", "--version")
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "error: interrupted\n")


def test_ctrl_c_in_a_callback_python_can_only_print_still_interrupts_the_command(tmp_path):
    run = _program_interrupted_on_import(tmp_path, "modelexport.archive.schema", "archive",
                                         "list", str(tmp_path / "none.lbdb"), how="callback")
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "error: interrupted\n")


def test_ctrl_c_while_a_module_imports_lets_the_import_finish_then_interrupts(tmp_path):
    """(An extension module's initialiser cut short by KeyboardInterrupt can crash the
    process: onnx's did, with SIGSEGV.)"""
    run = _program_interrupted_on_import(tmp_path, "modelexport.archive.schema", "archive",
                                         "list", str(tmp_path / "none.lbdb"), how="signal")
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "error: interrupted\n")
    assert (tmp_path / "modelexport.archive.schema.imported").exists()
