"""Example inputs for a model, built from its forward signature and config.

Which tensors to make is decided by the *parameter names* of ``forward`` (the names
transformers models share: ``input_ids``, ``pixel_values``, ``input_features``, ...) and
their sizes by the config's generic fields (``vocab_size``, ``num_channels``,
``image_size``, ``num_mel_bins``). Nothing here looks at the model's class.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modelexport.errors import UserInputError

# Primary inputs, in order of preference, and the rank of each.
_PRIMARY = ("input_ids", "pixel_values", "input_features", "input_values")
_RANK = {"input_ids": 2, "pixel_values": 4, "input_features": 3, "input_values": 2}
SEED = 0


@dataclass
class ModelInputs:
    """Tensors to feed by keyword, in forward-signature order, plus constant keywords."""

    tensors: dict[str, Any]
    constants: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.tensors)

    def kwargs(self) -> dict[str, Any]:
        return {**self.tensors, **self.constants}

    def describe(self) -> dict[str, list[int]]:
        return {name: list(t.shape) for name, t in self.tensors.items()}

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """The axes ``--dynamic`` leaves free: the first axis of every input is the
        batch, the second axis of a two-axis input (token ids, masks) the sequence.
        Other axes (an image's channels, height, width) keep their size."""
        axes: dict[str, dict[int, str]] = {}
        for name, tensor in self.tensors.items():
            if tensor.dim() >= 1:
                axes[name] = {0: "batch", 1: "sequence"} if tensor.dim() == 2 else {0: "batch"}
        return axes

    def grown(self) -> ModelInputs:
        """These inputs one larger along every dynamic axis (the first slice repeated),
        to check that an export with dynamic axes runs at another size."""
        import torch

        tensors = {}
        for name, tensor in self.tensors.items():
            for axis in self.dynamic_axes().get(name, {}):
                tensor = torch.cat([tensor, tensor.narrow(axis, 0, 1)], dim=axis)
            tensors[name] = tensor
        return ModelInputs(tensors, dict(self.constants))


def forward_parameters(model: Any) -> list[str]:
    """Names of the keyword-passable parameters of ``model.forward``."""
    signature = inspect.signature(model.forward)
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,8"`` or ``"1x3x32x32"`` → a tuple of positive ints."""
    parts = [p.strip() for p in text.strip().replace("x", ",").split(",")]
    shape = tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else ()
    if not shape or any(d <= 0 for d in shape):
        raise UserInputError(f"input shape {text!r} is not a list of positive integers; "
                             "write it like 1,8 or 1,3,224,224")
    return shape


def _config_int(config: Any, name: str, default: int) -> int:
    value = getattr(config, name, None)
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    return int(value) if isinstance(value, int) and value > 0 else default


def _default_shape(name: str, config: Any) -> tuple[int, ...]:
    if name == "input_ids":
        return (1, 8)
    if name == "pixel_values":
        size = _config_int(config, "image_size", 224)
        return (1, _config_int(config, "num_channels", 3), size, size)
    if name == "input_features":
        # Audio front ends usually halve the frame count once before the positions.
        frames = 2 * _config_int(config, "max_source_positions", 50)
        return (1, _config_int(config, "num_mel_bins", 80), frames)
    return (1, 16000)


def _primary_tensor(name: str, shape: tuple[int, ...], config: Any) -> Any:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    if name == "input_ids":
        high = _config_int(config, "vocab_size", 1000)
        return torch.randint(0, high, shape, generator=generator, dtype=torch.long)
    return torch.randn(shape, generator=generator)


def build_inputs(model: Any, tokenizer: Any = None, text: str | None = None,
                 shape: tuple[int, ...] | None = None) -> ModelInputs:
    """Inputs for ``model``: tokenized ``text`` when given, else generated tensors."""
    import torch

    params = forward_parameters(model)
    config = getattr(model, "config", None)
    tensors: dict[str, Any] = {}

    if text is not None:
        if tokenizer is None:
            raise UserInputError("--input-text needs tokenizer files beside config.json; "
                                 "use --input-shape instead")
        if "input_ids" not in params:
            raise UserInputError("--input-text given, but the model's forward takes no "
                                 "input_ids; use --input-shape instead")
        encoded = tokenizer(text, return_tensors="pt")
        tensors.update({k: v for k, v in encoded.items() if k in params})
    else:
        primary = next((p for p in _PRIMARY if p in params), None)
        if primary is None:
            raise UserInputError(
                f"cannot generate inputs: forward takes none of {', '.join(_PRIMARY)}; "
                "call export_model with example inputs")
        if shape is not None and len(shape) != _RANK[primary]:
            raise UserInputError(f"--input-shape {','.join(map(str, shape))} has rank "
                                 f"{len(shape)}, but {primary} needs rank {_RANK[primary]}")
        tensors[primary] = _primary_tensor(primary, shape or _default_shape(primary, config),
                                           config)
        if primary == "input_ids" and "attention_mask" in params:
            tensors["attention_mask"] = torch.ones_like(tensors["input_ids"])

    ids = tensors.get("input_ids")
    if ids is not None and "decoder_input_ids" in params and getattr(
            config, "is_encoder_decoder", False):
        tensors["decoder_input_ids"] = ids.clone()
    if ids is None and "decoder_input_ids" in params and getattr(
            config, "is_encoder_decoder", False):
        start = _config_int(config, "decoder_start_token_id", 0)
        tensors["decoder_input_ids"] = torch.full((1, 4), start, dtype=torch.long)

    constants = {"use_cache": False} if "use_cache" in params else {}
    order = {name: i for i, name in enumerate(params)}
    ordered = dict(sorted(tensors.items(), key=lambda kv: order[kv[0]]))
    return ModelInputs(ordered, constants)


def as_inputs(model: Any, example_inputs: Any) -> ModelInputs:
    """Normalise what a Python caller passes as example inputs.

    Accepts ModelInputs, a dict of keyword tensors (non-tensors become constants), a
    single tensor or a tuple of tensors (bound to forward's parameters in order).
    """
    import torch

    if isinstance(example_inputs, ModelInputs):
        return example_inputs
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if isinstance(example_inputs, (tuple, list)):
        params = forward_parameters(model)
        if len(example_inputs) > len(params):
            raise UserInputError(f"{len(example_inputs)} example inputs, but forward takes "
                                 f"{len(params)} parameters")
        # fewer inputs than parameters: the first ones, by position
        example_inputs = dict(zip(params, example_inputs, strict=False))
    if not isinstance(example_inputs, dict):
        raise UserInputError("example inputs must be a tensor, a tuple of tensors or a "
                             f"dict of keyword inputs, not {type(example_inputs).__name__}")
    tensors = {k: v for k, v in example_inputs.items() if isinstance(v, torch.Tensor)}
    constants = {k: v for k, v in example_inputs.items() if not isinstance(v, torch.Tensor)}
    if not tensors:
        raise UserInputError("example inputs contain no tensor")
    return ModelInputs(tensors, constants)


def flat_outputs(outputs: Any) -> list[tuple[str, Any]]:
    """The tensors of a model's output, flattened in pytree order, with readable names.

    Names come from the output's own structure: the keys of a ModelOutput or dict and
    the fields of a namedtuple (``last_hidden_state``, ``past_key_values_0_1``).
    Positions alone make no valid ONNX name, so a tuple's elements are ``output_0``,
    ``output_1``, ... and a lone tensor is ``output``.
    """
    import torch
    from torch.utils import _pytree as pytree

    leaves, _ = pytree.tree_flatten_with_path(outputs)
    named = []
    for path, value in leaves:
        if not isinstance(value, torch.Tensor):
            continue
        keys = [str(getattr(k, "key", getattr(k, "idx", getattr(k, "name", "")))) for k in path]
        name = "_".join(keys)
        if not name:
            name = "output"
        elif not (name[0].isalpha() or name[0] == "_"):
            name = f"output_{name}"
        named.append((name, value))
    seen: Counter[str] = Counter()
    unique = []
    for name, value in named:
        seen[name] += 1
        unique.append((name if seen[name] == 1 else f"{name}_{seen[name]}", value))
    return unique
