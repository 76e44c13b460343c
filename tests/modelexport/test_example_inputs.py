"""Example inputs from the forward signature and config, or from the tokenizer."""

from __future__ import annotations

import pytest

from modelexport.errors import UserInputError
from modelexport.inputs import as_inputs, build_inputs, flat_outputs, parse_shape

torch = pytest.importorskip("torch")


def _model(samples, name):
    from modelexport.loading import load_pretrained

    return load_pretrained(str(samples / name))


def test_shapes_parse_from_commas_or_x():
    assert parse_shape("1,8") == (1, 8)
    assert parse_shape("1x3x32x32") == (1, 3, 32, 32)


@pytest.mark.parametrize("text", ["", "1,a", "0,8", "-1", "1,x", "1,,8"])
def test_bad_shapes_are_refused_with_an_example(text):
    with pytest.raises(UserInputError, match="1,8"):
        parse_shape(text)


def test_token_models_get_ids_within_the_vocabulary_and_a_mask(samples):
    loaded = _model(samples, "bert-tiny")
    inputs = build_inputs(loaded.model, shape=(2, 5))
    assert inputs.names == ["input_ids", "attention_mask"]
    assert inputs.describe() == {"input_ids": [2, 5], "attention_mask": [2, 5]}
    assert int(inputs.tensors["input_ids"].max()) < loaded.model.config.vocab_size


def test_text_is_tokenized_with_the_sample_tokenizer(samples):
    loaded = _model(samples, "bert-tiny")
    inputs = build_inputs(loaded.model, loaded.tokenizer, text="hello world")
    ids = inputs.tensors["input_ids"][0].tolist()
    assert ids == loaded.tokenizer("hello world")["input_ids"]
    assert set(inputs.names) >= {"input_ids", "attention_mask"}


def test_generative_models_run_without_a_cache(samples):
    inputs = build_inputs(_model(samples, "gpt2-tiny").model)
    assert inputs.constants == {"use_cache": False}


def test_sequence_to_sequence_models_also_get_target_ids(samples):
    inputs = build_inputs(_model(samples, "t5-tiny").model)
    assert inputs.names == ["input_ids", "attention_mask", "decoder_input_ids"]


def test_image_models_get_pixels_sized_from_the_config(samples):
    inputs = build_inputs(_model(samples, "vit-tiny").model)
    assert inputs.describe() == {"pixel_values": [1, 3, 32, 32]}
    assert build_inputs(_model(samples, "resnet-tiny").model, shape=(2, 3, 40, 40)).describe() \
        == {"pixel_values": [2, 3, 40, 40]}


def test_a_shape_of_the_wrong_rank_names_the_input(samples):
    with pytest.raises(UserInputError, match="pixel_values needs rank 4"):
        build_inputs(_model(samples, "vit-tiny").model, shape=(1, 8))


def test_text_for_a_model_without_token_input_is_refused(samples):
    loaded = _model(samples, "vit-tiny")
    with pytest.raises(UserInputError, match="--input-text"):
        build_inputs(loaded.model, object(), text="a cat")


def test_python_callers_may_pass_a_tensor_a_tuple_or_keywords(blocks_net):
    x = torch.ones(2, 8)
    assert as_inputs(blocks_net, x).names == ["x"]
    assert as_inputs(blocks_net, (x,)).names == ["x"]
    mixed = as_inputs(blocks_net, {"x": x, "flag": False})
    assert mixed.names == ["x"] and mixed.constants == {"flag": False}
    with pytest.raises(UserInputError, match="no tensor"):
        as_inputs(blocks_net, {"flag": True})


def test_outputs_flatten_to_named_tensors(samples):
    loaded = _model(samples, "bert-tiny")
    inputs = build_inputs(loaded.model)
    with torch.no_grad():
        names = [name for name, _ in flat_outputs(loaded.model(**inputs.kwargs()))]
    assert names == ["last_hidden_state", "pooler_output"]


def test_dynamic_axes_are_the_batch_and_the_sequence_of_two_axis_inputs():
    import torch

    from modelexport.inputs import ModelInputs

    inputs = ModelInputs({"input_ids": torch.tensor([[5, 6, 7]]),
                          "pixel_values": torch.zeros(1, 3, 4, 4)}, {"use_cache": False})
    assert inputs.dynamic_axes() == {"input_ids": {0: "batch", 1: "sequence"},
                                     "pixel_values": {0: "batch"}}
    grown = inputs.grown()
    assert grown.describe() == {"input_ids": [2, 4], "pixel_values": [2, 3, 4, 4]}
    assert grown.tensors["input_ids"].tolist() == [[5, 6, 7, 5], [5, 6, 7, 5]]
    assert grown.constants == {"use_cache": False}
