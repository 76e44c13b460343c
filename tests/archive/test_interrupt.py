"""Ctrl-C (SIGINT) during ``modelexport archive add``: what is said and what is stored agree.

At every moment: exit 0, "added" printed and the model listed, or exit 130, one line
"error: interrupted" and the archive as it was; never a traceback. The archive opens
afterwards with nothing left behind: no marker, scratch or temporary file in the store,
no blob no model uses, no rollback copy or log beside the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from archive_models import chain_model, random_weights, save
from typer.testing import CliRunner

from modelexport.archive import ladybug_engine, open_archive
from modelexport.archive.store import TensorStore
from modelexport.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _blobs(store: Path) -> set[str]:
    return {p.name for p in store.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _names(db: Path) -> list[str]:
    with open_archive(db, create=False) as archive:
        return [m.name for m in archive.list().models]


def _left_behind(db: Path) -> list[str]:
    siblings = [p.name for p in db.parent.glob(db.name + ".*") if p.name != db.name + ".tensors"]
    return siblings + [p.name for p in (db.parent / (db.name + ".tensors")).glob(".*")]


def _check(db: Path, code: int, out: str, err: str, before: set[str]) -> bool:
    """The rule for one interrupted add of model 'big' to an archive holding 'kept';
    True if 'big' was added (and is removed again here, for the next run)."""
    assert "Traceback" not in out + err
    store = db.parent / (db.name + ".tensors")
    if code == 0:
        assert out.startswith("added 'big'") and err == ""
        assert _names(db) == ["big", "kept"]
        assert _blobs(store) > before
    else:
        # (said by the command; or by typer, silently, when the interrupt came before it)
        assert (code, out) == (130, "") and err in ("error: interrupted\n", "")
        assert _names(db) == ["kept"]
        assert _blobs(store) == before
    assert _left_behind(db) == []
    if code == 0:
        with open_archive(db, create=False) as archive:
            archive.remove("big")
        assert _blobs(store) == before
    return code == 0


def _start_add(db: Path, model: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "modelexport", "archive", "add", str(db),
                             str(model), "--name", "big"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _interrupt_at_many_moments(tmp_path: Path, model: Path, runs: int) -> list[int]:
    """SIGINT to real ``modelexport archive add`` processes after ``runs`` delays spread
    over the add's duration (measured by one add run to its end first), from the end of
    the program's start (Python itself, before the program runs, is not ours to test)."""
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(save(chain_model(random_weights(3, 16)), tmp_path / "kept.onnx"))
    before = _blobs(db.parent / (db.name + ".tensors"))
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "modelexport", "--version"], check=True,
                   capture_output=True)
    started = time.monotonic() - start
    start = time.monotonic()
    proc = _start_add(db, model)
    out, err = proc.communicate()
    took = time.monotonic() - start
    assert _check(db, proc.returncode, out, err, before)
    codes = []
    for k in range(runs):
        proc = _start_add(db, model)
        time.sleep(started + (took - started) * (k + 0.5) / runs)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate()
        _check(db, proc.returncode, out, err, before)
        codes.append(proc.returncode)
    return codes


@pytest.fixture(scope="module")
def gpt2() -> Path:
    """The 124M-parameter GPT-2 the benchmark builds (torch export, cached in bench/)."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT))
    from bench.__main__ import _prepare
    from bench.models import MODELS

    path, _info = _prepare(MODELS["gpt2"], refresh=False)
    return path


@pytest.mark.slow(first=True)
def test_ctrl_c_at_six_moments_of_adding_gpt2_never_leaves_words_and_archive_apart(
        tmp_path, gpt2):
    # (each step of an add is also interrupted on purpose, in process, below)
    codes = _interrupt_at_many_moments(tmp_path, gpt2, runs=6)
    assert 130 in codes


@pytest.mark.slow
def test_ctrl_c_at_five_moments_of_adding_a_model_loaded_in_parts(tmp_path):
    # 3,000 layers: ~39,000 rows, more than one committed part of LOAD_ROWS
    model = save(chain_model(random_weights(3000, 4)), tmp_path / "big.onnx")
    assert 3000 * 13 > ladybug_engine.LOAD_ROWS
    codes = _interrupt_at_many_moments(tmp_path, model, runs=5)
    assert 130 in codes


# -- in process: SIGINT sent at a chosen step, through the same command -------------------


def _interrupt_add_when(tmp_path: Path, monkeypatch, target: object, method: str,
                        after_calls: int) -> tuple[int, str, set[str]]:
    """``archive add`` of 'big' (CliRunner) with SIGINT sent to this process as
    ``target.method`` is called for the ``after_calls``-th time (after it returns)."""
    db = tmp_path / "models.lbdb"
    with open_archive(db) as archive:
        archive.add(save(chain_model(random_weights(3, 16)), tmp_path / "kept.onnx"))
    before = _blobs(db.parent / (db.name + ".tensors"))
    model = save(chain_model(random_weights(40, 8, seed=3)), tmp_path / "big.onnx")
    original = getattr(target, method)
    calls = 0

    def then_interrupt(*args, **kwargs):
        nonlocal calls
        result = original(*args, **kwargs)
        calls += 1
        if calls == after_calls:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(target, method, then_interrupt)
    result = CliRunner().invoke(app, ["archive", "add", str(db), str(model), "--name", "big"])
    monkeypatch.undo()
    return result.exit_code, result.output, before


@pytest.mark.parametrize("target, method, after_calls, code", [
    (TensorStore, "writer", 5, 130),  # while its tensors go to the store
    (ladybug_engine.LadybugEngine, "_copy", 2, 130),  # between two bulk loads
    (ladybug_engine.LadybugEngine, "load", 1, 0),  # its rows are committed: it is added
])
def test_ctrl_c_in_process_at_each_step_of_an_add(tmp_path, monkeypatch, target, method,
                                                  after_calls, code):
    exit_code, output, before = _interrupt_add_when(tmp_path, monkeypatch, target, method,
                                                    after_calls)
    db = tmp_path / "models.lbdb"
    assert exit_code == code, output
    assert "Traceback" not in output
    if code == 130:
        assert output == "error: interrupted\n"
    _check(db, exit_code, output if code == 0 else "", "" if code == 0 else output, before)


def test_ctrl_c_right_after_a_blob_is_closed_stays_an_interrupt(tmp_path, monkeypatch):
    """Ctrl-C between closing a blob's file and forgetting it: the clean-up must not close
    it again (a run under load once exited 1 with "Bad file descriptor" there)."""
    from modelexport.archive import store as store_module

    store = TensorStore(tmp_path / "store")
    real_close = os.close

    def close_then_interrupt(fd: int) -> None:
        real_close(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.os, "close", close_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        store.put(b"weights")
    monkeypatch.undo()
    assert list((tmp_path / "store").rglob("*")) == []


def test_ctrl_c_while_a_step_imports_a_module_lets_the_import_finish_under_the_program(
        tmp_path, monkeypatch):
    """Inside an interruptible step the interrupt is raised as the program's own handler
    raises it: after the module being imported has loaded (an extension module's
    initialiser cut short can crash the process)."""
    from modelexport.__main__ import _interrupt_unless_importing
    from modelexport.archive import interrupts

    (tmp_path / "interrupted_while_loading.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)\n"
        "total = sum(range(1000))  # bytecodes: where a raised interrupt would land\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    previous = signal.signal(signal.SIGINT, _interrupt_unless_importing)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts.guarded(), interrupts.interruptible():
                import interrupted_while_loading  # noqa: F401
                for _ in range(1000):
                    pass
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sys.modules.pop("interrupted_while_loading").total == 499500


def test_a_process_that_ignores_ctrl_c_goes_on_ignoring_it_while_it_writes(tmp_path):
    """(A shell's background job starts with SIGINT ignored.)"""
    from modelexport.archive import interrupts

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.guarded(), interrupts.interruptible():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            interrupts.poll()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
