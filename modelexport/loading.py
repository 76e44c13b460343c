"""Load a transformers model from a hub id or a local directory (SPEC §3).

- A directory with config.json and weights loads them.
- A directory with only config.json builds a random-init model with a fixed seed, and
  says so in :attr:`LoadedModel.note`.
- A hub id loads through ``from_pretrained``. When the hub cannot be reached, only the
  local cache is tried (no slow retries), and the error says the hub is unreachable.

The model class is the config's first ``architectures`` entry when transformers has it,
else ``AutoModel``: the config decides, not this module.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from modelexport.errors import ModelLoadError

SEED = 0
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spiece.model")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    source: str
    random_init: bool
    note: str


def _model_class(config: Any) -> Any:
    import transformers

    for name in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    return transformers.AutoModel


def _tokenizer(source: str, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception:  # noqa: BLE001 - a model without a usable tokenizer still exports
        return None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face endpoint accepts a TCP connection right now."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def load_from_directory(directory: Path) -> LoadedModel:
    from transformers import AutoConfig

    if not (directory / "config.json").is_file():
        raise ModelLoadError(f"{directory}: no config.json in this directory; point at a "
                             "transformers model directory (config.json, with or without "
                             "weights)")
    try:
        config = AutoConfig.from_pretrained(directory)
        cls = _model_class(config)
        has_weights = any(any(directory.glob(p)) for p in _WEIGHT_PATTERNS)
        if has_weights:
            model = cls.from_pretrained(directory)
            note = f"loaded weights from {directory}"
        else:
            import torch

            torch.manual_seed(SEED)
            model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
            note = (f"no weights in {directory}: built a random-init {type(model).__name__} "
                    f"from config.json (seed {SEED})")
    except ModelLoadError:
        raise
    except Exception as e:
        raise ModelLoadError(f"{directory}: cannot build the model from config.json "
                             f"({' '.join(str(e).split())[:200]})") from e
    tokenizer = None
    if any((directory / name).is_file() for name in _TOKENIZER_FILES):
        tokenizer = _tokenizer(str(directory))
    return LoadedModel(model.eval(), tokenizer, str(directory), not has_weights, note)


def load_from_hub(model_id: str) -> LoadedModel:
    from transformers import AutoConfig

    online = hub_reachable()
    try:
        config = AutoConfig.from_pretrained(model_id, local_files_only=not online)
        model = _model_class(config).from_pretrained(model_id, local_files_only=not online)
    except Exception as e:
        if not online:
            raise ModelLoadError(
                f"cannot load {model_id!r}: the Hugging Face hub is unreachable and the "
                "model is not in the local cache; pass a local model directory instead "
                "(one of the directories under samples/)") from e
        raise ModelLoadError(f"cannot load {model_id!r} from the Hugging Face hub "
                             f"({' '.join(str(e).split())[:200]})") from e
    tokenizer = _tokenizer(model_id, local_files_only=not online)
    where = "the Hugging Face hub" if online else "the local Hugging Face cache"
    return LoadedModel(model.eval(), tokenizer, model_id, False,
                       f"loaded {model_id} from {where}")


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Hold back transformers' and huggingface_hub's own tqdm bars ("Loading weights").

    tqdm draws on a pipe as readily as on a terminal; the caller shows progress its own
    way, on a terminal only.
    """
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_pretrained(source: str) -> LoadedModel:
    """Load ``source``: an existing local directory, else a hub id (no progress bars)."""
    with _no_progress_bars():
        return _load(source)


def _load(source: str) -> LoadedModel:
    path = Path(source).expanduser()
    if path.is_dir():
        return load_from_directory(path)
    if path.exists():
        raise ModelLoadError(f"{source}: is a file, not a model directory; pass a "
                             "directory holding config.json, or a hub id")
    if source.startswith((".", "/", "~")) or not _HUB_ID.match(source):
        raise ModelLoadError(f"{source}: no such directory; pass a model directory "
                             "holding config.json, or a hub id like org/name")
    if "/" in source and path.parent.is_dir():
        # `samples/nosuch` has a hub id's form, but `samples/` is here: a local path.
        raise ModelLoadError(f"{source}: no such directory{_near(path)}; pass a model "
                             "directory holding config.json")
    return load_from_hub(source)


def _near(path: Path) -> str:
    """`` (did you mean ...?)`` naming the closest directory beside ``path``, or ``""``."""
    import difflib

    siblings = sorted(p.name for p in path.parent.iterdir() if p.is_dir())
    close = difflib.get_close_matches(path.name, siblings, n=1)
    return f" (did you mean {path.parent / close[0]}?)" if close else ""
