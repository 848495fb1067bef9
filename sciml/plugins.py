"""Where components come from: the project's packages, installed plugins and a case's own modules.

Every component (problem, data, model, method, sampler, writer) registers itself with
``@REGISTRY.register(name)`` when the module that defines it is imported. This module decides
which modules are imported, through one mechanism for everyone:

- **entry points** of the group ``sciml.plugins``: each names a module to import. sciml declares
  its own there (``sciml.components``, ``pinns``, ``operators``), and an installed package adds
  its components the same way, in its ``pyproject.toml``::

      [project.entry-points."sciml.plugins"]
      mypackage = "mypackage.sciml_components"

- a case's **imports**: ``imports: [my_problem.py, mypackage.components]``, module names or
  ``.py`` files (relative to the case file), imported before the case is checked. The saved case
  keeps them with absolute paths, so ``sciml eval/export/--resume`` of the run find them again.

The registries load the entry points on their first lookup (:func:`load_plugins`), so ``import
sciml`` alone is enough to build any registered component, and importing sciml stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

GROUP = "sciml.plugins"
# the project's own components, imported even where the package metadata (and so its entry
# points) is missing, e.g. a source checkout on sys.path without `pip install`
BUILTIN = ("sciml.components", "pinns", "operators")

_state = {"loaded": False, "loading": False}


class PluginError(ImportError):
    """A plugin or a case's import could not be imported; the message names it and why."""


def load_plugins() -> None:
    """Import sciml's own component modules and every installed ``sciml.plugins`` entry point,
    once per process (later calls return at once)."""
    if _state["loaded"] or _state["loading"]:
        return
    _state["loading"] = True
    try:
        from importlib.metadata import entry_points

        eps = sorted(entry_points(group=GROUP), key=lambda e: (e.value not in BUILTIN, e.name))
        names = [e.value for e in eps]
        for module in BUILTIN:
            if module not in names:
                importlib.import_module(module)
        for ep in eps:
            try:
                ep.load()
            except Exception as exc:
                raise PluginError(
                    f"sciml plugin {ep.name!r} ({ep.value}, entry point group {GROUP}) "
                    f"failed to import: {type(exc).__name__}: {exc}"
                ) from exc
        _state["loaded"] = True
    finally:
        _state["loading"] = False


def _import_file(path: Path) -> ModuleType:
    """Import a Python file as a module under a name derived from its absolute path (the same
    file always gives the same module, imported once)."""
    for module in list(sys.modules.values()):  # already imported (by name, or by another case)
        f = getattr(module, "__file__", None)
        if f and Path(f).resolve() == path:
            return module
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"sciml_user_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # importlib knows no loader for this suffix
        raise ImportError(f"{path.name} is not a Python source file (import a .py file or a module name)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def resolve_import(item: str, base_dir: Path | None) -> str:
    """A case's import as it is saved: a ``.py`` file as an absolute path (relative to
    ``base_dir``, the case file's folder), a module name as given."""
    if item.endswith(".py") or "/" in item or "\\" in item:
        p = Path(item).expanduser()
        if not p.is_absolute():
            p = (base_dir or Path.cwd()) / p
        return str(p.resolve())
    return item


def import_user(item: str) -> None:
    """Import one resolved case import (see :func:`resolve_import`); a PluginError names it."""
    try:
        if item.endswith(".py") or "/" in item or "\\" in item:
            p = Path(item)
            if not p.is_file():
                raise PluginError(f"{item}: no such file")
            _import_file(p.resolve())
        else:
            importlib.import_module(item)
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"{item}: failed to import: {type(exc).__name__}: {exc}") from exc


def module_import(obj) -> str | None:
    """What a case must import to find ``obj`` (a registered builder) again in a new process:
    None for the project's own and installed plugins' components (they load themselves), the
    module's file for a module outside them, None for ``__main__`` (a script cannot be imported
    again without running it; define components in a module)."""
    mod = getattr(obj, "__module__", None)
    if mod is None or mod == "__main__" or mod.split(".")[0] in ("sciml", "pinns", "operators"):
        return None
    from importlib.metadata import entry_points

    plugin_roots = {e.value.split(".")[0].split(":")[0] for e in entry_points(group=GROUP)}
    if mod.split(".")[0] in plugin_roots:
        return None
    f = getattr(sys.modules.get(mod), "__file__", None)
    return str(Path(f).resolve()) if f else mod  # a file works from any directory
