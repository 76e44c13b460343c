"""Fixtures every test folder shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A folder every worker of this test run sees: under xdist each worker has its own
    base temporary folder, and their parent is the run's."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def made_once(folder: Path, make: Callable[[Path], Any]) -> Path:
    """``folder``, filled by ``make(folder)`` by the first worker that asks; the others
    wait on a lock and reuse what it made. A failed ``make`` leaves nothing marked done,
    so the next one to ask tries again (and reports the same failure)."""
    from filelock import FileLock

    done = folder / ".done"
    with FileLock(str(folder) + ".lock"):
        if not done.exists():
            folder.mkdir(parents=True, exist_ok=True)
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def once_per_run(tmp_path_factory) -> Callable[[str, Callable[[Path], Any]], Path]:
    """``once_per_run(name, make)``: a folder ``make(folder)`` filled once for the whole
    test run, whichever xdist worker asks first (see :func:`made_once`): for fixtures
    that cost seconds and that tests on both workers use."""
    root = shared_folder(tmp_path_factory, "once")
    return lambda name, make: made_once(root / name, make)


@pytest.fixture(scope="session")
def exported_sample(tmp_path_factory) -> Callable[..., Path]:
    """``exported_sample(name, strategy="auto", **options)``: ``samples/<name>`` exported by
    ``modelexport.export_pretrained`` (keyword ``options`` as it takes them), once per
    test run: the xdist workers share each export, so the folders that test what becomes
    of an export do not each pay for it. Treat the file as read-only: copy it to change
    it."""
    shared = shared_folder(tmp_path_factory, "exports")

    def export(name: str, strategy: str = "auto", **options: Any) -> Path:
        pytest.importorskip("torch")
        key = "-".join([name, strategy, *(f"{k}={v}" for k, v in sorted(options.items()))])

        def make(folder: Path) -> None:
            from modelexport import export_pretrained

            export_pretrained(str(SAMPLES / name), folder / f"{name}.onnx",
                              strategy=strategy, **options)

        return made_once(shared / key, make) / f"{name}.onnx"

    return export


@pytest.fixture(scope="session")
def onnx_cases(once_per_run) -> list[tuple[str, Any]]:
    """tests/onnx_corpus.py's ``collect_cases()``, collected once for the whole test run:
    the first worker to ask saves the models, the others read them back (0.02 s instead of
    the 7 CPU-seconds onnx's reference implementation takes to collect them)."""
    import pickle

    import onnx
    from onnx_corpus import collect_cases

    def make(folder: Path) -> None:
        cases = [(name, model.SerializeToString()) for name, model in collect_cases()]
        (folder / "cases.pickle").write_bytes(pickle.dumps(cases))

    saved = (once_per_run("onnx-cases", make) / "cases.pickle").read_bytes()
    return [(name, onnx.load_model_from_string(data)) for name, data in pickle.loads(saved)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest tests first: ``@pytest.mark.slow(first=True)`` ones, then the other
    slow ones, then the rest, each in collection order. On two workers the run then ends
    with a tail of short tests rather than one long test that started last."""

    def rank(item: pytest.Item) -> int:
        slow = item.get_closest_marker("slow")
        if slow is None:
            return 2
        return 0 if slow.kwargs.get("first") else 1

    items.sort(key=rank)


#: Test files whose tests xdist hands out one at a time, to whichever worker is free: the
#: README's runs, each an independent scratch directory of exports, together the longest
#: work of the suite. Every other file goes to one worker whole (``--dist loadfile``), so
#: its fixtures are built once.
ONE_TEST_AT_A_TIME = {"tests/test_readme.py"}


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, except for the files of :data:`ONE_TEST_AT_A_TIME`."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndSomeTests(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return nodeid if file in ONE_TEST_AT_A_TIME else file

    return FilesAndSomeTests(config, log)
