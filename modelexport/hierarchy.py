"""The module tree of a PyTorch model and the tag of every module (SPEC §5).

A tag is the path of class names from the root, e.g. ``/Model/Stack/Block.0/Mlp``.
Built-in ``torch.nn`` modules are left out by default: a node inside one takes the tag
of the nearest kept ancestor. Containers (ModuleList, Sequential, ModuleDict) never
appear; their keys become a suffix of the child (``Block.0``). Two kept siblings that
would share a segment are told apart by their attribute path (``Stack.first``,
``Stack.second``), so two module instances never share a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelexport.converter.tags import is_builtin_class, module_segments


@dataclass(frozen=True)
class ModuleInfo:
    """One kept module: its dotted path (``""`` for the root), class name, tag, parent
    tag, and the parameter elements it owns (its own and those of the built-in modules
    and containers folded into it; each shared parameter counted once, as torch's
    ``parameters()`` does, so the tree's counts add up to ``num_parameters()``)."""

    path: str
    class_name: str
    tag: str
    parent: str | None
    parameters: int = 0

    def as_record(self) -> dict[str, Any]:
        return {"tag": self.tag, "path": self.path, "class": self.class_name,
                "parent": self.parent, "parameters": self.parameters}


@dataclass
class ModuleTree:
    """Kept modules in ``named_modules()`` order, and every module path's tag."""

    modules: list[ModuleInfo]
    path_tags: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> ModuleInfo:
        return self.modules[0]

    def by_tag(self) -> dict[str, ModuleInfo]:
        return {m.tag: m for m in self.modules}

    def tag_of(self, path: str | None) -> str | None:
        """Tag for a dotted module path: its own, or that of the deepest known ancestor.

        Returns None for None; unknown paths shorten one segment at a time, ending at
        the root. Paths of repeated calls written ``name@2`` count as ``name``.
        """
        if path is None:
            return None
        path = ".".join(part.split("@", 1)[0] for part in path.split(".")) if path else ""
        while True:
            tag = self.path_tags.get(path)
            if tag is not None:
                return tag
            if not path:
                return self.root.tag
            path = path.rpartition(".")[0]

    def records(self) -> list[dict[str, Any]]:
        return [m.as_record() for m in self.modules]


def is_builtin(module: Any) -> bool:
    """True for modules whose class is defined by ``torch.nn`` itself."""
    cls = type(module)
    return is_builtin_class(f"{cls.__module__}.{cls.__qualname__}")


def _is_container(module: Any) -> bool:
    import torch.nn as nn

    return isinstance(module, (nn.ModuleList, nn.Sequential, nn.ModuleDict))


def build_module_tree(model: Any, keep_builtins: bool = False) -> ModuleTree:
    """Tag every module of ``model`` (an ``nn.Module``) from its real ``named_modules()``."""
    named = list(model.named_modules())
    root_path, root_module = named[0]
    kept: dict[str, Any] = {root_path: root_module}
    for path, module in named[1:]:
        if _is_container(module) or (is_builtin(module) and not keep_builtins):
            continue
        kept[path] = module

    def kept_parent(path: str) -> str:
        parent = path.rpartition(".")[0]
        while parent and parent not in kept:
            parent = parent.rpartition(".")[0]
        return parent

    # The segment of each kept module below its kept parent: class name, plus the
    # container keys crossed on the way; siblings that clash use the full relative path.
    parents = {p: kept_parent(p) for p in kept if p}
    segments = module_segments(parents, {p: type(kept[p]).__name__ for p in parents})

    tags = {root_path: "/" + type(root_module).__name__}
    for path in kept:
        if path != root_path:
            tags[path] = f"{tags[parents[path]]}/{segments[path]}"
    owned: dict[str, int] = {}  # kept module path -> parameter elements
    for name, param in model.named_parameters():  # each shared parameter once
        owner = name.rpartition(".")[0]
        owner = owner if owner in kept else kept_parent(owner)
        owned[owner] = owned.get(owner, 0) + param.numel()

    modules = []
    for path, module in kept.items():
        parent = tags[parents[path]] if path != root_path else None
        modules.append(ModuleInfo(path, type(module).__name__, tags[path], parent,
                                  owned.get(path, 0)))
    tree = ModuleTree(modules)
    for path, _ in named:
        tree.path_tags[path] = tags[path] if path in tags else tags[kept_parent(path)]
    return tree
