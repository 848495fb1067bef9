"""Interface terms weighted per training phase (METALIC's two-stage variant): a term is computed only
in the stages whose phase weighs it above 0, the data do not depend on the weights, a policy may set
a phase's weights before its stage starts, and bad input is one line."""

from __future__ import annotations

import pytest
import torch
from test_interfaces import poisson  # the cut Poisson problem of tests/pinns/test_interfaces.py

import pinns.pinn  # noqa: F401  (registers pinn)
from sciml.data.collocation import CollocationData
from sciml.problems.interfaces import attach_interfaces
from sciml.registry import METHODS
from sciml.run import Models


def pinn_of(problem):
    torch.manual_seed(0)
    return METHODS.build("pinn", {}, problem=problem, models=Models({"type": "mlp", "width": 8, "depth": 2}, problem))


def test_a_term_is_computed_only_in_the_phases_that_weigh_it():
    pb = attach_interfaces(poisson(), {"u": {"fit": 5.0}, "flux": {"fit": 0.0, "refine": 2.0}, "uavg": 1.0})
    pinn = pinn_of(pb)
    batch = CollocationData(pb, n_interior=50, n_boundary=20, seed=0).next_batch()
    pinn.check_phases(["fit", "refine"])
    pinn.start_stage("fit", None, None)
    terms = pinn.loss(batch)
    assert {k for k in terms if "@" in k} == {"u@y0|y1", "uavg@y0|y1"}  # flux weighs 0 in fit: not computed
    assert pinn.weights["u@y0|y1"] == 5.0 and pinn.weights.get("uavg@y0|y1", 1.0) == 1.0
    pinn.start_stage("refine", None, None)
    terms = pinn.loss(batch)
    assert {k for k in terms if "@" in k} == {"flux@y0|y1", "uavg@y0|y1"}  # u is not listed for refine: 0
    assert pinn.weights["flux@y0|y1"] == 2.0
    # a term's value does not depend on the phase (only whether it is computed and its weight)
    pinn.start_stage("fit", None, None)
    torch.testing.assert_close(pinn.loss(batch)["uavg@y0|y1"], terms["uavg@y0|y1"])


def test_the_data_do_not_depend_on_the_phase_weights_and_a_policy_may_change_them():
    a = attach_interfaces(poisson(), {"u": {"fit": 5.0, "refine": 0.0}, "flux": {"fit": 0.0, "refine": 0.0}})
    b = attach_interfaces(poisson(), {"u": {"fit": 0.0, "refine": 1.0}, "flux": {"fit": 3.0, "refine": 5.0}})
    da = CollocationData(a, n_interior=50, n_boundary=20, seed=0).next_batch()
    db = CollocationData(b, n_interior=50, n_boundary=20, seed=0).next_batch()
    assert da.keys() == db.keys() and all(torch.equal(da[k], db[k]) for k in da)
    pinn = pinn_of(a)
    pinn.start_stage("refine", None, None)
    assert {k for k in pinn.loss(da) if "@" in k} == set()  # both terms weigh 0 in refine
    pinn.set_phase_weights({"flux": {"fit": 0.0, "refine": 4.0}})  # between the stages
    pinn.start_stage("refine", None, None)
    assert {k for k in pinn.loss(da) if "@" in k} == {"flux@y0|y1"} and pinn.weights["flux@y0|y1"] == 4.0
    assert a.conditions["flux@y0|y1"].phases == {"fit": 0.0, "refine": 0.0}  # the method's state, not the problem's


def test_phase_weights_bad_input_is_one_line():
    with pytest.raises(ValueError, match=r"^interface.u.fit: the weight must be a finite number >= 0, got -1"):
        attach_interfaces(poisson(), {"u": {"fit": -1}})
    with pytest.raises(ValueError, match=r"^interface.u: a weight per phase maps the stages' phase names"):
        attach_interfaces(poisson(), {"u": {}})
    pinn = pinn_of(attach_interfaces(poisson(), {"u": {"fit": 5.0, "polish": 1.0}}))
    with pytest.raises(ValueError, match=r"^problem.interface.u: no stage has phase 'polish'; the stages' phases: fit"):
        pinn.check_phases(["fit", "fit"])
    fixed = pinn_of(attach_interfaces(poisson(), {"u": 5.0}))
    with pytest.raises(ValueError, match=r"^interface.u: only the weights per phase of a term attached with"):
        fixed.set_phase_weights({"u": {"fit": 1.0}})
    # method.weights overrides a phased term in every phase (and then it is always computed)
    pb = attach_interfaces(poisson(), {"u": {"fit": 5.0}})
    over = METHODS.build("pinn", {"weights": {"u@y0|y1": 2.0}}, problem=pb, models=Models({"type": "mlp"}, pb))
    over.start_stage("refine", None, None)
    assert over.weights["u@y0|y1"] == 2.0 and not over.off
