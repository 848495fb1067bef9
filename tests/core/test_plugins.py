"""Plugins: `import sciml` alone fills the registries; a case's `imports:` and installed packages'
entry points add user components, and runs made with them (from a case or from Python) work in
`sciml eval/export/--resume` from anywhere, in a new process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from sciml.cli import main

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
import numpy as np, torch
from sciml import Field, Grid
from sciml.geometry import Domain, dde
from sciml.problems import Condition, Problem
from sciml.registry import PROBLEMS


def _reference():
    grid = Grid((65,), ((0.0, 1.0),))
    return Field(np.sin(np.pi * grid.points()), grid, ("u",))


@PROBLEMS.register("{name}")
def my_poisson(*, params: dict | None = None) -> Problem:
    """-u'' = pi^2 sin(pi x) on (0, 1), u = 0 at both ends (a user's problem)."""
    return Problem(
        name="{name}", inputs=("x",), outputs=("u",), params={{}},
        domain=Domain(dde().geometry.Interval(0.0, 1.0), names=("x",)),
        equations={{"pde": lambda du, p: du("x", "x") + np.pi**2 * torch.sin(np.pi * du.coord("x"))}},
        conditions={{"ends": Condition("boundary", lambda du, p: du())}},
        reference=_reference,
    )
'''

CASE = {
    "name": "userprob",
    "seed": 0,
    "problem": {"type": None},
    "data": {"type": "collocation", "n_interior": 32, "n_boundary": 4, "sampler": "pseudo"},
    "model": {"type": "mlp", "width": 8, "depth": 2},
    "method": {"type": "pinn"},
    "train": {
        "stages": [{"optimizer": "adam", "lr": 1.0e-2, "steps": 20}],
        "progress": False,
        "eval_every": 100,
        "checkpoint_every": 10,
    },
    "output": {"formats": ["vtu"]},
}


def cli(args, cwd, env=None):
    """`python -m sciml.cli ARGS` in a new process (nothing imported from this one)."""
    env = {**os.environ, **(env or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "sciml.cli", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def test_import_sciml_alone_fills_every_registry():
    code = (
        "import sciml, sys\n"
        "from sciml.registry import METHODS, MODELS, PROBLEMS\n"
        "assert 'pinns' not in sys.modules  # importing sciml stays cheap: plugins load on first lookup\n"
        "p = PROBLEMS.build('burgers1d', {})\n"
        "print(sorted(METHODS.names()), 'fno' in MODELS, p.name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "'pinn'" in out.stdout and "'supervised'" in out.stdout and "True burgers1d" in out.stdout


def test_a_case_imports_a_users_file_and_the_run_works_from_anywhere(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "my_problem.py").write_text(MODULE.format(name="my_poisson_file"))
    case = {**CASE, "imports": ["my_problem.py"], "problem": {"type": "my_poisson_file"}}
    (project / "case.yaml").write_text(yaml.safe_dump(case))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = cli(["run", str(project / "case.yaml"), "--output", str(tmp_path / "runs")], cwd=elsewhere)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.split("run directory: ")[1].split()[0])
    saved = yaml.safe_load((run_dir / "case.yaml").read_text())
    assert saved["imports"] == [str((project / "my_problem.py").resolve())]  # absolute: found from anywhere
    for args in (
        ["eval", str(run_dir)],
        ["export", str(run_dir), "--formats", "vtu"],
        ["run", "--resume", str(run_dir), "--set", "train.stages.1={optimizer: adam, steps: 5}"],
    ):
        res = cli(args, cwd=tmp_path)
        assert res.returncode == 0, (args, res.stderr)
    assert json.loads((run_dir / "summary.json").read_text())["metrics"]["steps"] == 25


def test_a_run_made_from_python_records_the_module_of_its_problem(tmp_path, monkeypatch):
    import sciml

    (tmp_path / "userpkg_problems.py").write_text(MODULE.format(name="my_poisson_module"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import userpkg_problems  # noqa: F401  (registers my_poisson_module, as a user's script would)

    (tmp_path / "case.yaml").write_text(yaml.safe_dump({**CASE, "problem": {"type": "my_poisson_module"}}))
    run_dir, _ = sciml.run_case(sciml.load_case(tmp_path / "case.yaml"))
    saved = yaml.safe_load((run_dir.path / "case.yaml").read_text())
    assert saved["imports"] == [str((tmp_path / "userpkg_problems.py").resolve())]
    res = cli(["eval", str((tmp_path / run_dir.path).resolve())], cwd=ROOT)  # a new process without the module
    assert res.returncode == 0, res.stderr


def test_an_installed_package_registers_through_its_entry_point(tmp_path):
    site = tmp_path / "site"
    (site / "acme_sciml").mkdir(parents=True)
    (site / "acme_sciml" / "__init__.py").write_text(MODULE.format(name="acme_poisson"))
    dist = site / "acme_sciml-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-sciml\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[sciml.plugins]\nacme = acme_sciml\n")
    out = cli(["list", "problems"], cwd=tmp_path, env={"PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr
    assert "acme_poisson" in out.stdout and "burgers1d" in out.stdout


@pytest.mark.parametrize(
    "imports, words",
    [
        (["missing_module_xyz"], ["imports.0", "missing_module_xyz", "failed to import"]),
        (["nothere.py"], ["imports.0", "nothere.py", "no such file"]),
        (["broken.py"], ["imports.0", "broken.py", "ZeroDivisionError"]),
        # a path to a file without the .py suffix: importlib has no loader for it
        (["helpers/tool"], ["imports.0", "helpers/tool", "tool is not a Python source file"]),
        ([3], ["imports.0", "module name or a .py file"]),
    ],
)
def test_a_bad_import_is_one_line_before_any_work(tmp_path, capsys, imports, words):
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "tool").write_text("x = 1\n")
    (tmp_path / "case.yaml").write_text(yaml.safe_dump({**CASE, "imports": imports, "problem": {"type": "burgers1d"}}))
    assert main(["run", str(tmp_path / "case.yaml"), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "runs").exists()


def test_the_method_packages_are_plugins_of_the_core():
    """The core imports no method package: pinns and operators come in as entry points."""
    for path in (ROOT / "sciml").rglob("*.py"):
        if path.name == "plugins.py":
            continue
        text = path.read_text()
        for pkg in ("pinns", "operators"):
            assert f"import {pkg}" not in text and f"from {pkg}" not in text, (path, pkg)
    text = textwrap.dedent((ROOT / "pyproject.toml").read_text())
    assert '[project.entry-points."sciml.plugins"]' in text
