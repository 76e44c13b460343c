"""Module tree and tags (SPEC §5), on small models of our own and on sample configs."""

from __future__ import annotations

import pytest

from modelexport.hierarchy import build_module_tree, is_builtin

torch = pytest.importorskip("torch")


def test_tags_are_class_paths_with_container_keys_and_no_builtins(blocks_net):
    tree = build_module_tree(blocks_net)
    assert [m.tag for m in tree.modules] == [
        "/BlocksNet",
        "/BlocksNet/Block.0",
        "/BlocksNet/Block.1",
        "/BlocksNet/Head.first",
        "/BlocksNet/Head.second",
    ]
    assert tree.root.path == "" and tree.root.parent is None
    assert {m.path: m.parent for m in tree.modules}["blocks.1"] == "/BlocksNet"


def test_siblings_of_one_class_are_told_apart_by_attribute_name(blocks_net):
    tags = [m.tag for m in build_module_tree(blocks_net).modules]
    assert len(tags) == len(set(tags))
    assert "/BlocksNet/Head.first" in tags and "/BlocksNet/Head.second" in tags


def test_builtin_modules_take_the_tag_of_their_enclosing_module(blocks_net):
    tree = build_module_tree(blocks_net)
    assert tree.tag_of("blocks.1.lin") == "/BlocksNet/Block.1"
    assert tree.tag_of("blocks") == "/BlocksNet"
    assert tree.tag_of("first.proj") == "/BlocksNet/Head.first"


def test_keeping_builtins_puts_them_in_tags(blocks_net):
    tree = build_module_tree(blocks_net, keep_builtins=True)
    assert tree.tag_of("blocks.1.lin") == "/BlocksNet/Block.1/Linear"
    assert tree.tag_of("blocks.1.norm") == "/BlocksNet/Block.1/LayerNorm"
    assert "/BlocksNet/Head.first/Linear" in {m.tag for m in tree.modules}


def test_unknown_and_repeated_call_paths_resolve_to_the_deepest_known_module(blocks_net):
    tree = build_module_tree(blocks_net)
    assert tree.tag_of("blocks.0.lin@1") == "/BlocksNet/Block.0"
    assert tree.tag_of("blocks.0.nothing.here") == "/BlocksNet/Block.0"
    assert tree.tag_of("nothing") == "/BlocksNet"
    assert tree.tag_of("") == "/BlocksNet"
    assert tree.tag_of(None) is None


def test_builtin_means_defined_by_torch_nn(blocks_net):
    assert is_builtin(torch.nn.Linear(2, 2))
    assert not is_builtin(blocks_net)


def test_two_stacks_of_one_class_in_the_t5_sample_get_distinct_tags(samples):
    from transformers import AutoConfig, AutoModel

    model = AutoModel.from_config(AutoConfig.from_pretrained(samples / "t5-tiny"))
    tree = build_module_tree(model)
    tags = [m.tag for m in tree.modules]
    assert len(tags) == len(set(tags))
    assert tree.tag_of("encoder") == "/T5Model/T5Stack.encoder"
    assert tree.tag_of("decoder") == "/T5Model/T5Stack.decoder"
    assert tree.tag_of("encoder.block.1.layer.0.SelfAttention.q") == \
        "/T5Model/T5Stack.encoder/T5Block.1/T5LayerSelfAttention.0/T5Attention"
