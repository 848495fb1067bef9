"""Interface terms of multi-domain PINNs (sciml/problems/interfaces.py, pinns/multidomain.py).

On Poisson −Δu = f over the unit square cut at y = 0.5, with u = sin πx sin πy: every term vanishes
when both sides are the exact solution, and none does when one side is perturbed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pinns.pinn  # noqa: F401  (registers pinn)
from pinns.multidomain import BoxScaled, point_network
from sciml.geometry import Domain, dde
from sciml.ops import Derivatives
from sciml.problems.base import Condition, FluxForm, Problem
from sciml.problems.interfaces import attach_interfaces, interface_residual, metalic_terms


def exact(x):
    return torch.sin(np.pi * x[:, 0]) * torch.sin(np.pi * x[:, 1])


def perturbed(x):
    return exact(x) + 0.1 * torch.sin(3 * x[:, 0] + 2 * x[:, 1])


def poisson(flux: bool = False, cuts=None) -> Problem:
    domain = Domain(dde().geometry.Rectangle([0, 0], [1, 1]), cuts=cuts if cuts is not None else {"y": 0.5})
    f = lambda x: 2 * np.pi**2 * exact(x)  # −Δu = f
    return Problem(
        "poisson_split",
        ("x", "y"),
        ("u",),
        {},
        domain=domain,
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - f(du.x)},
        conditions={"wall": Condition("boundary", lambda du, p: du())},
        forms={"flux": FluxForm(lambda du, p: torch.stack([du("x"), du("y")], 1))} if flux else {},
        exact=lambda x: np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1]),
        eval_h=0.05,
    )


def sides(problem, name, fa, fb, n=64):
    cond = problem.conditions[name]
    iface = cond.where.split(":", 1)[1]
    x = problem.domain.sample_boundary(n, iface, rng=0)
    normals = torch.as_tensor(cond.normals_at(problem.domain, x))
    out = []
    for fn in (fa, fb):
        z = torch.as_tensor(x).requires_grad_(True)
        out.append(Derivatives(fn(z)[:, None], z, problem.inputs, problem.outputs, normals=normals))
    return cond, out


@pytest.mark.parametrize("flux", [False, True])
def test_each_term_vanishes_on_the_exact_solution_and_not_on_a_perturbed_one(flux):
    terms = metalic_terms(("x", "y"))
    assert terms == ("u", "uavg", "res", "res_continuity", "flux", "u_yy", "gres", "u_x", "u_xx")
    pb = attach_interfaces(poisson(flux), dict.fromkeys(terms, 1.0))
    names = [f"{t}@y0|y1" for t in terms]  # default interface name: the cut's two pieces
    assert [k for k in pb.conditions if k != "wall"] == names
    for name in names:
        cond, (a, b) = sides(pb, name, exact, exact)
        r = cond.residual(a, b, pb.params)
        # exact arithmetic gives 0; in float64 the residuals (∝ π² sin) round to ~1e-13
        assert r.abs().max() < 1e-10, name
        cond, (a, b) = sides(pb, name, exact, perturbed)
        assert cond.residual(a, b, pb.params).abs().max() > 1e-2, name  # the perturbation is O(0.1)
    # the flux form F = ∇u on a cut at y = c is the normal derivative, the fallback without a form
    cond, (a, b) = sides(pb, "flux@y0|y1", exact, perturbed)
    plain = interface_residual(poisson(False), "flux")
    torch.testing.assert_close(cond.residual(a, b, {}), plain(a, b, {}))


def test_two_sided_terms_sum_the_sides_mean_squares():
    """``res``, ``uavg``, ``gres``: mean(r²) is the sum of both sides' mean squares, per derivative for
    ``gres`` (the METALIC loss: one mean per side and component)."""
    pb = poisson()
    _, (a, b) = sides(attach_interfaces(pb, {"u": 1}), "u@y0|y1", perturbed, exact)
    res = interface_residual(pb, "res")(a, b, {})
    ra, rb = pb.equations["pde"](a, {}), pb.equations["pde"](b, {})
    torch.testing.assert_close(res.square().mean(), ra.square().mean() + rb.square().mean())
    avg = interface_residual(pb, "uavg")(a, b, {})
    ua, ub = a(), b()
    m = (ua + ub) / 2
    torch.testing.assert_close(avg.square().mean(), (ua - m).square().mean() + (ub - m).square().mean())
    gres = interface_residual(pb, "gres")(a, b, {})
    want = 0.0
    for d in (a, b):
        r = pb.equations["pde"](d, {})
        g = torch.autograd.grad(r.sum(), d.x, create_graph=True)[0]
        want = want + g[:, 0].square().mean() + g[:, 1].square().mean()
    torch.testing.assert_close(gres.square().mean(), want)


def test_every_output_is_joined():
    """On a problem with two outputs, ``u``/``uavg``/``u_<coords>``/``flux`` join both: a jump in the
    second output alone shows in each term."""
    domain = Domain(dde().geometry.Rectangle([0, 0], [1, 1]), cuts={"y": 0.5})
    pb = Problem("two", ("x", "y"), ("u", "v"), {}, domain=domain, equations={"pde": lambda du, p: du("x", "x")})
    pb = attach_interfaces(pb, {"u": 1, "uavg": 1, "u_y": 1, "flux": 1})
    x = torch.as_tensor(pb.domain.sample_boundary(16, "y0|y1", rng=0))
    normals = torch.as_tensor(pb.conditions["flux@y0|y1"].normals_at(pb.domain, x.numpy()))

    def side(v_shift):
        z = x.clone().requires_grad_(True)
        u = torch.stack([torch.sin(z[:, 0]), torch.cos(z[:, 1]) + v_shift * z[:, 1] ** 2], 1)
        return Derivatives(u, z, pb.inputs, pb.outputs, normals=normals)

    for name in ("u@y0|y1", "uavg@y0|y1", "u_y@y0|y1", "flux@y0|y1"):
        cond = pb.conditions[name]
        assert cond.residual(side(0.0), side(0.0), {}).abs().max() < 1e-12, name
        assert cond.residual(side(0.0), side(0.3), {}).abs().max() > 1e-2, name  # only v jumps


def test_choices_and_errors():
    pb = poisson(cuts={"x": [0.3, 0.6]})
    out = attach_interfaces(pb, {"u": 5, "res_continuity": 0, "u_x": 2.5})  # a zero weight: not computed
    assert sorted(k for k in out.conditions if "@" in k) == ["u@x0|x1", "u@x1|x2", "u_x@x0|x1", "u_x@x1|x2"]
    assert out.conditions["u@x1|x2"].subdomain == ("x1", "x2") and out.conditions["u@x0|x1"].weight == 5.0
    assert list(out.subdomains) == ["x0", "x1", "x2"] and pb.conditions.keys() == {"wall"}  # a new problem
    assert out.conditions["u_x@x0|x1"].normals is False
    assert attach_interfaces(pb, {"flux": 1}).conditions["flux@x0|x1"].normals is True
    assert attach_interfaces(pb, None) is pb
    bad = [
        ({"u": 1, "ut": 1}, r"^interface: unknown term 'ut'; the terms are u, uavg, .*coordinates x, y"),
        ({"u": -1}, r"^interface.u: the weight must be a finite number >= 0, got -1$"),
        ({"u": True}, r"^interface.u: the weight must be a finite number >= 0"),
        ([["u"]], r"^interface must map terms to weights"),
    ]
    for interface, message in bad:
        with pytest.raises(ValueError, match=message):
            attach_interfaces(pb, interface)
    uncut = Problem("p", ("x", "y"), ("u",), {}, domain=Domain(dde().geometry.Rectangle([0, 0], [1, 1])))
    with pytest.raises(ValueError, match=r"^interface terms join the subdomains of a cut domain; 'p' has no cuts"):
        attach_interfaces(uncut, {"u": 1})


def test_pinn_weighs_interface_terms_and_scales_each_network_to_its_box():
    from sciml.registry import METHODS
    from sciml.run import Models

    pb = attach_interfaces(poisson(cuts={"y": 0.25}), {"u": 5.0, "flux": 2.0})
    models = Models({"type": "mlp", "width": 8, "depth": 2}, pb)
    pinn = METHODS.build("pinn", {"weights": {"flux@y0|y1": 3.0}}, problem=pb, models=models)
    assert pinn.weights == {"u@y0|y1": 5.0, "flux@y0|y1": 3.0}  # the condition's weight, the case's override
    net = pinn.model.part("y0")
    assert isinstance(net, BoxScaled)
    seen = []
    net.net.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    corners = torch.tensor([[0.0, 0.0], [1.0, 0.25]])
    net(corners)
    torch.testing.assert_close(seen[0], torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))  # y ∈ [0, 0.25] → [-1, 1]
    # a problem whose subdomains are plain predicates (no box) keeps plain networks
    plain = Problem("q", ("x", "y"), ("u",), {}, subdomains={"a": lambda x: x[:, 0] < 0, "b": lambda x: x[:, 0] >= 0})
    assert not isinstance(point_network(Models({"type": "mlp"}, plain), plain).part("a"), BoxScaled)


def test_a_multidomain_pinn_trains_with_interface_terms():
    """Collocation data sample each active term's interface points (with normals for ``flux``); a
    short Adam run lowers the loss and the error of the two-network solution."""
    from sciml.config import Stage, Train
    from sciml.data.collocation import CollocationData
    from sciml.registry import METHODS
    from sciml.run import Models
    from sciml.train import Trainer

    torch.manual_seed(0)
    pb = attach_interfaces(poisson(), {"u": 5.0, "flux": 5.0, "res_continuity": 1.0})
    data = CollocationData(pb, n_interior=300, n_boundary=100, seed=0)
    batch = data.next_batch()
    assert batch["u@y0|y1"].shape == (100, 2) and np.allclose(batch["u@y0|y1"][:, 1], 0.5)
    torch.testing.assert_close(batch["normals:flux@y0|y1"], torch.tensor([[0.0, 1.0]]).expand(100, 2))
    pinn = METHODS.build("pinn", {}, problem=pb, models=Models({"type": "mlp", "width": 16, "depth": 2}, pb))
    first = {k: float(v.detach()) for k, v in pinn.loss(batch).items()}
    assert set(first) == {"pde", "wall", "u@y0|y1", "flux@y0|y1", "res_continuity@y0|y1"}
    Trainer(Train(stages=[Stage(optimizer="adam", lr=1e-2, steps=300)], progress=False)).fit(pinn, data)
    last = {k: float(v.detach()) for k, v in pinn.loss(data.next_batch()).items()}
    total = lambda t: sum(pinn.weights.get(k, 1.0) * v for k, v in t.items())
    assert total(last) < 0.1 * total(first)
    x = torch.rand(500, 2, generator=torch.Generator().manual_seed(1))
    err = (pinn(x)[:, 0] - exact(x)).norm() / exact(x).norm()
    assert err < 0.3  # 300 Adam steps: a rough solution (0.12 measured), joined across y = 0.5


def test_a_learned_policy_chooses_the_terms_for_the_problems_parameters(tmp_path):
    """``interface: {policy: PATH}``: the terms of the arm of highest posterior mean at the problem's
    parameter (a policy fitted here on a toy history where ``u`` pays for small k, ``flux`` for large)."""
    import itertools
    from dataclasses import replace

    from sciml.bandit import ContextScale, LearnedPolicy

    keys = ["problem.interface.u", "problem.interface.flux"]
    candidates = np.array(list(itertools.product([0, 1], repeat=2)))
    ks = np.linspace(0.0, 1.0, 9)
    x_ctx = np.repeat(ks, 4)[:, None]
    x_arm = np.tile(candidates, (len(ks), 1))
    rewards = np.where(x_ctx[:, 0] < 0.5, x_arm[:, 0] - x_arm[:, 1], x_arm[:, 1] - x_arm[:, 0]).astype(float)
    policy = LearnedPolicy(
        [ContextScale("problem.params.k", 0.5, 0.3)], keys, [[0, 5], [0, 5]], candidates, x_ctx, x_arm, rewards
    )
    path = policy.save(tmp_path / "policy.json")
    base = poisson()
    for k, want in ((0.1, "u@y0|y1"), (0.9, "flux@y0|y1")):
        pb = attach_interfaces(replace(base, params={"k": k}), {"policy": str(path)})
        assert [c for c in pb.conditions if "@" in c] == [want]
        assert pb.conditions[want].weight == 5.0
    with pytest.raises(ValueError, match=r"its context 'problem.params.k' is not a parameter of 'poisson_split'"):
        attach_interfaces(base, {"policy": str(path)})
    with pytest.raises(ValueError, match=r"^interface: give a policy or terms, not both"):
        attach_interfaces(base, {"policy": str(path), "u": 1})
    with pytest.raises(ValueError, match=r"no such policy file"):
        attach_interfaces(base, {"policy": str(tmp_path / "missing.json")})


def test_scale_inputs_for_one_network():
    """``method.scale_inputs``: the single-domain network sees [-1, 1] over the domain's box, as each
    subdomain network does over its own (the fair single-domain baseline); off by default."""
    from sciml.registry import METHODS
    from sciml.run import Models

    pb = poisson(cuts={})
    assert not pb.subdomains
    scaled = METHODS.build("pinn", {"scale_inputs": True}, problem=pb, models=Models({"type": "mlp"}, pb))
    assert isinstance(scaled.model, BoxScaled)
    torch.testing.assert_close(scaled.model.box_center, torch.tensor([0.5, 0.5]))
    plain = METHODS.build("pinn", {}, problem=pb, models=Models({"type": "mlp"}, pb))
    assert not isinstance(plain.model, BoxScaled)
    with pytest.raises(ValueError, match="method.scale_inputs must be true or false, got 'yes'"):
        METHODS.build("pinn", {"scale_inputs": "yes"}, problem=pb, models=Models({"type": "mlp"}, pb))


def test_any_problem_with_a_domain_can_be_cut():
    """``cuts`` and ``interface`` are options of every problem (the registry applies them): a problem
    written with no thought of subdomains splits; a wrapped domain stays wrapped; what cannot be cut
    is refused in one line."""
    from sciml.geometry import Domain as D
    from sciml.registry import PROBLEMS

    assert {"cuts", "interface"} <= set(PROBLEMS.options("poisson1d_multiscale"))
    pb = PROBLEMS.build("poisson1d_multiscale", {"cuts": {"x": 0.5}, "interface": {"u": 5, "u_x": 5}})
    assert list(pb.subdomains) == ["x0", "x1"] and sorted(k for k in pb.conditions if "@" in k) == [
        "u@x0|x1",
        "u_x@x0|x1",
    ]
    plain = PROBLEMS.build("poisson1d_multiscale", {})
    assert plain.subdomains == {} and isinstance(plain.domain, D) and not plain.domain.cuts
    adv = PROBLEMS.build("convection1d", {"cuts": {"t": 0.5}})
    assert type(adv.domain).__name__ == "PairedPeriodicDomain" and list(adv.domain.interfaces) == ["t0|t1"]
    x = adv.domain.sample_boundary(8, "periodic", rng=0)  # still paired: (0, t_i) then (2π, t_i)
    np.testing.assert_array_equal(x[:4, 1], x[4:, 1])
    for name, message in (
        ("darcy2d", r"^cuts: problem 'darcy2d' has no domain; cuts split a Domain"),
        ("crack_mode3", r"^cuts: problem 'crack_mode3' has subdomains of its own \(upper, lower\)"),
    ):
        with pytest.raises(ValueError, match=message):
            PROBLEMS.build(name, {"cuts": {"x": 0.5}})
    with pytest.raises(ValueError, match=r"^cuts: the domain is cut already"):
        pb.domain.cut({"x": 0.25})


def test_a_run_with_a_policy_file_records_the_chosen_terms_and_warns_outside_its_data(tmp_path, monkeypatch):
    """``interface: {policy: PATH}`` in a case: a relative PATH is resolved from the working directory
    and saved absolute (so ``sciml eval`` and ``--resume`` find it from anywhere), the summary and
    the report name the terms the policy chose, and a parameter outside the values the policy learned
    from is warned about (an extrapolation)."""
    import itertools
    import json
    import warnings
    from pathlib import Path

    from sciml.bandit import ContextScale, LearnedPolicy
    from sciml.config import load_case
    from sciml.output import RunDir
    from sciml.run import run_case

    keys = ["problem.interface.uavg", "problem.interface.flux"]
    candidates = np.array(list(itertools.product([0, 1], repeat=2)))
    rhos = np.linspace(2.0, 10.0, 5)
    x_ctx = np.repeat(rhos, 4)[:, None]
    x_arm = np.tile(candidates, (len(rhos), 1))
    rewards = (x_arm[:, 0] - 0.5 * x_arm[:, 1]).astype(float)  # uavg on, flux off: everywhere
    scale = ContextScale("problem.params.rho", 6.0, 2.5)
    LearnedPolicy([scale], keys, [[0, 5], [0, 5]], candidates, x_ctx, x_arm, rewards).save(tmp_path / "p.json")
    case_file = Path("cases/metalic_reaction.yaml").resolve()
    monkeypatch.chdir(tmp_path)

    def run(rho):
        over = [
            "problem.interface={policy: p.json}",
            f"problem.params.rho={rho}",
            "train.stages=[{optimizer: adam, lr: 1.0e-3, steps: 2}]",
            "train.progress=false",
            "output.formats=[]",
            "data.n_interior=32",
            f"output.dir={tmp_path / 'runs'}",
        ]
        return run_case(load_case(str(case_file), over))[0]

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run_dir = run(5.0)
    assert not [w for w in seen if "interface.policy" in str(w.message)]  # inside the learned values
    summary = json.loads((run_dir.path / RunDir.SUMMARY).read_text())
    assert summary["interface"] == {"uavg": 5.0}
    assert "Interface terms (weights): uavg 5" in (run_dir.path / RunDir.REPORT).read_text()
    assert RunDir.open(run_dir.path).load_case_dict()["problem"]["interface"] == {"policy": str(tmp_path / "p.json")}
    with pytest.warns(UserWarning, match=r"rho = 14 is outside the values the policy learned from \[2, 10\]"):
        run(14.0)
