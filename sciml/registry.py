"""One registry per kind of component, filled by an explicit ``@REG.register(name)``.

A case file names components by string (``model: {type: mlp}``); the registry maps
that name to exactly one class or function and builds it from the remaining keys.
Unknown names are errors that list what is registered.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

B = TypeVar("B", bound=Callable[..., Any])  # a builder: a function or a class


class Registry:
    """A named mapping ``name -> builder`` for one kind of component.

    Parameters
    ----------
    kind : str
        What is registered (``"model"``, ``"problem"``...), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[B], B]:
        """Decorator: register ``obj`` under ``name`` and return it unchanged."""

        def deco(obj: B) -> B:
            if name in self._items and self._items[name] is not obj:
                raise KeyError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def _items_loaded(self) -> dict[str, Callable[..., Any]]:
        """The registered items, once the plugins are loaded (the first lookup of any registry
        imports sciml's own component modules and the installed plugins: :mod:`sciml.plugins`)."""
        from .plugins import load_plugins

        load_plugins()
        return self._items

    def __contains__(self, name: str) -> bool:
        return name in self._items_loaded()

    def names(self) -> list[str]:
        return sorted(self._items_loaded())

    def get(self, name: str) -> Callable[..., Any]:
        if name not in self._items_loaded():
            raise KeyError(f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self.names())}")
        return self._items[name]

    def options(self, name: str) -> dict[str, Any]:
        """Keyword options the builder accepts, with their defaults (``inspect.Parameter.empty`` if required)."""
        sig = inspect.signature(self.get(name))
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and not p.name.startswith("_")
        }

    def build(self, name: str, options: dict[str, Any] | None = None, **context: Any) -> Any:
        """Build ``name`` with user ``options`` plus framework ``context`` (problem, io sizes...)."""
        return self.get(name)(**(options or {}), **context)

    def check(self, name: str, options: dict[str, Any], exclude=(), **context: Any) -> None:
        """Run the option checks ``name``'s builder carries (``builder.check``, the function the builder
        calls first; nothing if it has none) with ``options`` over the builder's defaults (except the
        names in ``exclude``, which the framework supplies), plus the ``context`` the check takes."""
        check = getattr(self.get(name), "check", None)
        if check is None:
            return
        opts = {k: d for k, d in self.options(name).items() if d is not inspect.Parameter.empty and k not in exclude}
        opts.update({k: v for k, v in options.items() if k != "type"})
        params = inspect.signature(check).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        check(**{k: v for k, v in {**opts, **context}.items() if takes_all or k in params})

    def describe(self, name: str) -> str:
        """The first sentence of the builder's docstring (its first paragraph if that has no
        sentence end), on one line: never cut off mid-sentence at a line break."""
        doc = inspect.getdoc(self.get(name)) or ""
        para = " ".join(doc.strip().split("\n\n")[0].split())
        m = re.search(r"[.!?](?=\s+[A-Z(`\"]|$)", para)  # a stop before a capital or the end: not "et al. 2024"
        return para[: m.end()] if m else para


class ProblemRegistry(Registry):
    """The problems' registry: every problem also takes ``cuts`` and ``interface`` (its domain split
    into subdomains joined by interface terms, :func:`sciml.problems.interfaces.split_problem`), unless
    its builder takes them itself."""

    SPLIT = ("cuts", "interface")

    def options(self, name: str) -> dict[str, Any]:
        own = super().options(name)
        return {**own, **{k: None for k in self.SPLIT if k not in own}}

    def build(self, name: str, options: dict[str, Any] | None = None, **context: Any) -> Any:
        own = super().options(name)
        opts = dict(options or {})
        split = {k: opts.pop(k) for k in self.SPLIT if k in opts and k not in own}
        problem = super().build(name, opts, **context)
        if not split:
            return problem
        from .problems.interfaces import split_problem

        return split_problem(problem, **split)


PROBLEMS = ProblemRegistry("problem")
MODELS = Registry("model")
METHODS = Registry("method")
DATA = Registry("data")
SAMPLERS = Registry("sampler")
WRITERS = Registry("writer")

ALL = {
    "problems": PROBLEMS,
    "models": MODELS,
    "methods": METHODS,
    "data": DATA,
    "samplers": SAMPLERS,
    "writers": WRITERS,
}
