"""Output bytes pinned: SHA-256 of what the converters write, computed with the code of
commit 4eb8a4d and kept here, so a refactor that changes one byte fails.

Pinned per model: the ``--no-yed`` GraphML, the ``--flat --no-yed`` GraphML, the
sidecar, and the ONNX rebuilt by import-onnx. The default GraphML is not pinned: its
yEd markup gains layout geometry on purpose (SPEC §10), and nothing else of the
document depends on it.

Models: bench's synthetic graphs and the whole onnx test corpus (one hash over every
model's hashes, in corpus order), and, slow, every sample exported by ``modelexport``
(the export's bytes are pinned too). torch records absolute source paths in
``pkg.torch.onnx.stack_trace``; those are rewritten relative to site-packages first,
so the hashes do not depend on where the checkout lives. The corpus comes with onnx
and the samples' exports with torch and transformers: the hashes hold for the versions
in ``PINNED_VERSIONS``, which the test extra pins; under other versions the tests fail
saying so (they never skip). Whatever the versions, a sample's round trip must give its
export back byte for byte.

When an issue changes output on purpose, recompute with ``python
tests/converter/test_output_bytes.py`` and say so in the commit. The samples' hashes
were recomputed once since: issue 13 names graph inputs and outputs after the model's
own and records parameter owners, which changes the exports (and so their GraphML and
rebuilt ONNX); their sidecars, the synthetic models and the corpus kept their hashes.
Issue 19 recomputed them again: 64-bit keys are declared string (the GraphML of every
model changes), initializers are labelled with their parameter, and the exporter
records each parameter's name (the samples' exports change); every sidecar and the
synthetic models' rebuilt ONNX kept their hashes. Issue 22 (item 4) recomputed the
samples' GraphML (both forms): each module group carries its ``parameters`` from the
module tree; their exports, sidecars and rebuilt ONNX, the synthetic models and the
corpus kept their hashes. And once more for issue 19's labels:
the exporter marks parameters held transposed (bert, t5 and vit exports change) and
small constants are labelled with their value (the corpus hash and every sample's
GraphML change); sidecars and the synthetic models kept their hashes.
"""

from __future__ import annotations

import hashlib
import shutil
import sysconfig
from pathlib import Path

import onnx
import pytest
from onnx_corpus import collect_cases, corpus_files

from modelexport.converter import graphml_to_onnx, onnx_to_graphml

SYNTHETIC_HASHES = {
    1: {
        "flat": "c1931db50c93c6cc2c3c3f7e1343f42197a34584319024444a73df0bf246bff5",
        "flat_sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "graphml": "c0196dec7e9ba1522f7b96834f8898ac04144b1409d65cb4b6ee4f8d9dfce618",
        "onnx": "13dc64deecb77caa576bd1553f6841e9252496b46c8033e771827dafcac4ab5e",
        "sidecar": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
    35: {
        "flat": "2aa3b0b1c5878e1c4ce57d11a6659a68e08aa0b1030c57c55777d102c3180dfd",
        "flat_sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
        "graphml": "3286b9f09472892acb564449c47da20349a89a4c99d74ea98b2eea561d232692",
        "onnx": "a6678ac5cf27cb73f0481652c3ca85f70d9e0f3d3345a64496f944d3498532ff",
        "sidecar": "8df8050f01b3aa057bebafac64ae636d5977269aebf9b2b1ee8ffbcae14f042f",
    },
    300: {
        "flat": "d7085ad849620564f72b0fdf7090dc8a64b36407d0be3eb960832d2f1869a031",
        "flat_sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
        "graphml": "15659d6f933694cc53eefc16a19931bacd67c0f79b660bdcfdce4c529e7444cd",
        "onnx": "2b17d5f0c0f74b6ce3e59ddc842d63c058963fee82fcd6c538438610667ca70b",
        "sidecar": "69f06cc2ddcad9fc07ae4bab2a960e2abaee2b6d330a618d91b31869660f8f6d",
    },
}
# The corpus comes with onnx, the samples' exports with torch, transformers, onnx and
# onnxscript: their hashes hold for these versions, which the test extra pins
# (pyproject.toml), so a release elsewhere cannot silently change what is compared.
PINNED_VERSIONS = {"torch": "2.13.0", "transformers": "5.24.0", "onnx": "1.23.2",
                   "onnxscript": "0.7.2"}
CORPUS_HASH = "e30f5e1af6aff54f86ae6bcb95c65017ca131f032fa6ac581d2697192b118c29"
SAMPLE_HASHES = {
    "bert-tiny": {
        "export": "1ffffaa06a0f987719b94bd2cc947b8273c6bd3fa0e81161441ceb203464846e",
        "flat": "f340032631c014ba7b604cce751c0b58ce7d956537773f23f809b73791ab3f4c",
        "flat_sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
        "graphml": "515428764b6c7f89fea8711d2d29da94c4fc2aff6260af6d6785f04c313d34bd",
        "onnx": "1ffffaa06a0f987719b94bd2cc947b8273c6bd3fa0e81161441ceb203464846e",
        "sidecar": "b83091a6a6e5030a6ada2504902579f60343f63fc15ae4c4ed86ad435b161352",
    },
    "gpt2-tiny": {
        "export": "7bc6e8270aca409cdd1053e20036c5f8cb207716f64cd49e1e0e5b380aa6e58e",
        "flat": "00837bc4cac4ba298e8c13d685296fdc5887d8b7a7f1ba28c53e4a64ae451795",
        "flat_sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
        "graphml": "2afa8fea43c604d174356f637804343b750a3306ea762aef5470c2a10fb585f4",
        "onnx": "7bc6e8270aca409cdd1053e20036c5f8cb207716f64cd49e1e0e5b380aa6e58e",
        "sidecar": "21cb66515acd6f78b5b928683eb1ae90d3e32d1ba0f4b2831098539c6e673f45",
    },
    "resnet-tiny": {
        "export": "0cad435d41fb2491ec2708afd56af35044fa9335a0c7d9aa2af1fa662b7cfb91",
        "flat": "32c31de483430763566860bf2c7f3ed2b196bbac5379fe3b941235b6e0328b68",
        "flat_sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
        "graphml": "7006f6a6dd257f34fa25ace9d73156e48dd2e77c34176ea2803bc1b2d1a166a6",
        "onnx": "0cad435d41fb2491ec2708afd56af35044fa9335a0c7d9aa2af1fa662b7cfb91",
        "sidecar": "5bb6cfb7247e66c90921c1510da71d6e92a04c9d94885f0edfc7dd0107dc82ec",
    },
    "t5-tiny": {
        "export": "699e64aebd1a7fadc4de5810626417e80db85c17d69e71ab60fe2981a31d1fcc",
        "flat": "33a3eabea95a268a56366eec2044c63c7c9103bea0baf16a00f421702dd048b9",
        "flat_sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
        "graphml": "6dcadbf78f46b25f5e4516856b505ae02224e672977177ffc8bed2112ee56361",
        "onnx": "699e64aebd1a7fadc4de5810626417e80db85c17d69e71ab60fe2981a31d1fcc",
        "sidecar": "b9a784c53d34a74376f3ab8fca35388c5e0db2cc40e215ba9eaa3a1bb8d984b3",
    },
    "vit-tiny": {
        "export": "444862d4b82f76aaaec0aeb5d023b25db073b7576b975537f4e63ab634998398",
        "flat": "77e9883a4167d57f7a5a2d8da25648c3698bf519c4efda72752248cfb323eb77",
        "flat_sidecar": "b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0",
        "graphml": "53172ce818296283e9f061418a24efdbcde5cefd8dfde2d591aabb397c2777eb",
        "onnx": "444862d4b82f76aaaec0aeb5d023b25db073b7576b975537f4e63ab634998398",
        "sidecar": "b9d4b1a6f45bc2e619a4b391adebaa7db7d8523fbeb3c2f31169bbfcb68768f0",
    },
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def output_hashes(tmp: Path, source: onnx.ModelProto | Path) -> dict[str, str]:
    """Hashes of the no-yed and flat no-yed GraphML, the sidecar and the rebuilt ONNX."""
    tmp.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        # a fixed name beside the GraphML, so the recorded source path is the same everywhere
        shutil.copyfile(source, tmp / "m.onnx")
        source = tmp / "m.onnx"
    onnx_to_graphml(source, tmp / "m.graphml", yed=False)
    graphml_to_onnx(tmp / "m.graphml", tmp / "back.onnx")
    onnx_to_graphml(source, tmp / "flat.graphml", yed=False, flat=True)
    return {
        "graphml": _sha(tmp / "m.graphml"),
        "flat": _sha(tmp / "flat.graphml"),
        "sidecar": _sha(tmp / "m.onnxdata"),
        "flat_sidecar": _sha(tmp / "flat.onnxdata"),
        "onnx": _sha(tmp / "back.onnx"),
    }


def corpus_hash(tmp: Path, cases: list[tuple[str, onnx.ModelProto]]) -> str:
    """One hash over the outputs of every model of the corpus: ``cases`` (the node and
    model test cases), then the model files onnx ships."""
    total = hashlib.sha256()
    for i, (name, source) in enumerate([*cases, *corpus_files()]):
        # each model in a folder of its own, removed after: on ext4, replacing an
        # existing file flushes it first (~1.5 ms), a fifth of this test's time
        hashes = output_hashes(tmp / str(i), source)
        shutil.rmtree(tmp / str(i))
        total.update(f"{name}\0{sorted(hashes.items())}\n".encode())
    return total.hexdigest()


def synthetic_hashes(tmp: Path) -> dict[int, dict[str, str]]:
    from bench.synthetic import make_synthetic_model

    return {n: output_hashes(tmp / str(n), make_synthetic_model(n)) for n in SYNTHETIC_SIZES}


SYNTHETIC_SIZES = (1, 35, 300)


def sample_export(tmp: Path, sample: Path, exported: Path | None = None) -> Path:
    """``sample`` exported with the defaults (or ``exported``, such an export made
    already), stack traces made relative to site-packages."""
    tmp.mkdir(parents=True, exist_ok=True)
    if exported is None:
        import modelexport

        exported = tmp / "export.onnx"
        modelexport.export_pretrained(str(sample), exported)
    model = onnx.load(str(exported))
    site = sysconfig.get_paths()["purelib"]
    for node in model.graph.node:
        for prop in node.metadata_props:
            if prop.key == "pkg.torch.onnx.stack_trace":
                prop.value = prop.value.replace(site, "<site-packages>")
    normalized = tmp / "sample.onnx"
    onnx.save(model, str(normalized))
    return normalized


def assert_pinned_versions(*names: str) -> None:
    """Fail, saying what to do, when an input's producer is not the version pinned."""
    from importlib.metadata import version

    found = {n: version(n).split("+")[0] for n in names}  # torch's "+cpu" is a build tag
    wanted = {n: PINNED_VERSIONS[n] for n in names}
    assert found == wanted, (
        f"the pinned hashes were computed with {wanted}, this environment has {found}: "
        "install the test extra (make test), or after changing the pins in pyproject.toml "
        "recompute them with `python tests/converter/test_output_bytes.py`")


def test_the_pins_match_the_test_extra():
    """The versions above are the ones pyproject's test extra installs."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    root = Path(__file__).resolve().parents[2]
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["test"]
    assert {f"{n}=={v}" for n, v in PINNED_VERSIONS.items()} <= set(extra)


def test_synthetic_models_convert_to_the_pinned_bytes(tmp_path):
    assert synthetic_hashes(tmp_path) == SYNTHETIC_HASHES


@pytest.mark.slow(first=True)
def test_the_onnx_corpus_converts_to_the_pinned_bytes(tmp_path, onnx_cases):
    assert_pinned_versions("onnx")
    assert corpus_hash(tmp_path, onnx_cases) == CORPUS_HASH


SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_DIRS = sorted(p for p in SAMPLES.iterdir() if (p / "config.json").exists())


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLE_DIRS, ids=lambda p: p.name)
def test_an_exported_sample_and_its_conversions_have_the_pinned_bytes(tmp_path, sample,
                                                                     exported_sample):
    exported = sample_export(tmp_path, sample, exported_sample(sample.name))
    found = {"export": _sha(exported), **output_hashes(tmp_path / "out", exported)}
    # whatever the versions: the round trip gives the export back, byte for byte
    assert found["onnx"] == found["export"] and found["flat_sidecar"] == found["sidecar"]
    assert_pinned_versions(*PINNED_VERSIONS)
    assert found == SAMPLE_HASHES[sample.name]


if __name__ == "__main__":
    import pprint
    import sys
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    assert_pinned_versions(*PINNED_VERSIONS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("SYNTHETIC_HASHES =", pprint.pformat(synthetic_hashes(root / "synthetic")))
        print(f'CORPUS_HASH = "{corpus_hash(root / "corpus", collect_cases())}"')
        samples = {p.name: {"export": _sha(e := sample_export(root / p.name, p)),
                            **output_hashes(root / p.name / "out", e)} for p in SAMPLE_DIRS}
        print("SAMPLE_HASHES =", pprint.pformat(samples))
