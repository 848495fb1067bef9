"""Cuts: a Domain split by planes x_k = c (time included) into subdomains joined by interfaces.

The METALIC splits (Burgers' strip |x| < 0.1, advection/reaction at t = 0.5, Poisson at y = 0.5),
cuts of an L and a disk, product cuts, errors, and a Poisson problem on two subdomains whose exact
solution satisfies every condition while solutions with a jump at the interface do not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciml.geometry import SAMPLERS, Domain, dde, polygon
from sciml.nn import SubdomainNet

L_VERTICES = [(-1, -1), (0, -1), (0, 0), (1, 0), (1, 1), (-1, 1)]  # the square minus its quadrant x > 0, y < 0


def burgers_split(**kw):
    g = dde().geometry.Interval(-1.0, 1.0)
    return Domain(g, time=(0.0, 1.0), names=("x", "t"), cuts={"x": [-0.1, 0.1]}, **kw)


def uniform_counts(values, lo, hi, bins=10):
    """Per-bin counts and the largest deviation from the uniform expectation, in binomial sigmas."""
    counts = np.histogram(values, bins=bins, range=(lo, hi))[0]
    n, p = len(values), 1.0 / bins
    return counts, np.max(np.abs(counts - n * p)) / np.sqrt(n * p * (1 - p))


def owners(domain, x):
    """Index of the owning subdomain per row, by SubdomainNet's rule (the first predicate that holds)."""
    net = SubdomainNet({k: torch.nn.Identity() for k in domain.subdomains}, domain.subdomains)
    return net.owner(torch.as_tensor(x)).numpy()


def check_sides(domain, name, x, delta):
    """Points of interface ``name`` belong to its second side; moved by -delta (+delta) along the
    normal, to its first (second) side. Checked in float64 and float32 (the training dtype)."""
    face = domain.interfaces[name]
    a, b = (list(domain.subdomains).index(s) for s in face.sides)
    n = face.normal
    for dtype in (np.float64, np.float32):
        assert (owners(domain, x.astype(dtype)) == b).all()
        assert (owners(domain, (x - delta * n).astype(dtype)) == a).all()
        assert (owners(domain, (x + delta * n).astype(dtype)) == b).all()
    # the predicates themselves partition the points (numpy in, numpy out): exactly one holds
    claims = np.stack([np.asarray(p(x - delta * n)) for p in domain.subdomains.values()])
    assert (claims.sum(0) == 1).all() and claims[a].all()


def test_burgers_strip_three_subdomains_two_interfaces():
    d = burgers_split()
    assert list(d.subdomains) == ["x0", "x1", "x2"]
    assert list(d.interfaces) == ["x0|x1", "x1|x2"]
    assert d.interfaces["x0|x1"].sides == ("x0", "x1") and d.interfaces["x1|x2"].sides == ("x1", "x2")
    np.testing.assert_array_equal(d.cuts["x"], [-0.1, 0.1])
    np.testing.assert_array_equal(d.subdomains["x1"].bounds, [[-0.1, 0.1], [0.0, 1.0]])
    for name, c in (("x0|x1", -0.1), ("x1|x2", 0.1)):
        x = d.sample_boundary(4000, name, rng=0)
        assert x.shape == (4000, 2) and (x[:, 0] == c).all() and d.contains(x).all()
        counts, dev = uniform_counts(x[:, 1], 0.0, 1.0)
        assert dev < 5, counts  # the cut × [0, 1]: uniform in t (5 binomial sigmas; fixed seed)
        check_sides(d, name, x, delta=1e-5)
        np.testing.assert_array_equal(d.normals(x), np.ones((4000, 1)))  # from x0 towards x1: +x
    # the strip owns |x| < 0.1 and its left edge; the outer pieces the rest
    x = np.array([[-0.5, 0.3], [-0.1, 0.3], [0.0, 0.3], [0.1, 0.3], [0.9, 0.3]])
    assert owners(d, x).tolist() == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("reaction", [False, True])
def test_time_cut_two_subdomains(reaction):
    g = dde().geometry.Interval(0.0, 2 * np.pi)
    d = Domain(g, time=(0.0, 1.0), names=("x", "t"), cuts={"t": 0.5})
    assert list(d.subdomains) == ["t0", "t1"] and list(d.interfaces) == ["t0|t1"]
    face = d.interfaces["t0|t1"]
    assert face.axis == "t" and face.value == 0.5 and face.normal.tolist() == [0.0, 1.0]
    x = d.sample_boundary(4000, "t0|t1", "sobol" if reaction else "pseudo", rng=1)
    assert (x[:, 1] == 0.5).all() and d.contains(x).all()
    counts, dev = uniform_counts(x[:, 0], 0.0, 2 * np.pi)
    assert dev < 5, counts  # the spatial interval at t = 0.5, uniform in x
    check_sides(d, "t0|t1", x, delta=1e-5)
    # a cut in time has no spatial normal: zero from normals(x), an error when asked by name
    assert not d.normals(x).any()
    with pytest.raises(ValueError, match="cut in t: its normal has no spatial part"):
        d.normals(x, "t0|t1")


def test_poisson_square_cut_at_half():
    d = Domain(dde().geometry.Rectangle([0, 0], [1, 1]), cuts={"y": 0.5}, subdomain_names=["bottom", "top"])
    assert list(d.subdomains) == ["bottom", "top"] and list(d.interfaces) == ["bottom|top"]
    x = d.sample_boundary(4000, "bottom|top", rng=2)
    assert (x[:, 1] == 0.5).all() and d.contains(x).all()
    counts, dev = uniform_counts(x[:, 0], 0.0, 1.0)
    assert dev < 5, counts
    check_sides(d, "bottom|top", x, delta=1e-6)
    np.testing.assert_array_equal(d.normals(x), np.tile([0.0, 1.0], (4000, 1)))
    # where the interface meets the boundary the boundary's normal wins, unless the tag is given
    ends = np.array([[0.0, 0.5], [1.0, 0.5]])
    np.testing.assert_allclose(d.normals(ends), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(d.normals(ends, "bottom|top"), [[0.0, 1.0], [0.0, 1.0]])
    # boundary points and normals of a cut domain are those of the uncut one
    whole = Domain(dde().geometry.Rectangle([0, 0], [1, 1]))
    for method in ("pseudo", "hammersley"):
        xb = d.sample_boundary(300, None, method, rng=3)
        np.testing.assert_array_equal(xb, whole.sample_boundary(300, None, method, rng=3))
        np.testing.assert_array_equal(d.normals(xb), whole.normals(xb))


@pytest.mark.parametrize("method", SAMPLERS)
def test_every_sampler_on_an_interface(method):
    d = Domain(dde().geometry.Rectangle([0, 0], [2, 1]), time=(0, 1), cuts={"x": 0.5})
    x = d.sample_boundary(257, "x0|x1", method, rng=0)
    assert x.shape == (257, 3) and (x[:, 0] == 0.5).all() and d.contains(x).all()
    if method in ("hammersley", "sobol", "halton"):  # low discrepancy over (y, t): every quadrant gets its share
        q = np.histogram2d(x[:, 1], x[:, 2], bins=2, range=[[0, 1], [0, 1]])[0]
        assert q.min() > 0.2 * 257, q


def test_hammersley_points_are_evenly_spaced_on_a_steady_interface():
    d = Domain(dde().geometry.Rectangle([0, 0], [1, 2]), cuts={"x": 0.25})
    y = np.sort(d.sample_boundary(99, "x0|x1", "hammersley", rng=0)[:, 1])
    np.testing.assert_allclose(y, 2 * np.arange(1, 100) / 100, rtol=0, atol=1e-12)


def test_cut_of_a_steady_interval_is_a_point():
    d = Domain(dde().geometry.Interval(0, 1), cuts={"x": 0.3})
    x = d.sample_boundary(5, "x0|x1", "hammersley", rng=0)
    np.testing.assert_array_equal(x, np.full((5, 1), 0.3))
    np.testing.assert_array_equal(d.normals(x), np.ones((5, 1)))


def l_shape(kind):
    g = dde().geometry
    if kind == "polygon":
        return polygon(L_VERTICES)
    return g.Rectangle([-1, -1], [0, 1]) | g.Rectangle([0, 0], [1, 1])  # its inside() holds on x = 0, y < 0 too


@pytest.mark.parametrize("kind", ["polygon", "union"])
def test_cut_through_an_l_shape(kind):
    d = Domain(l_shape(kind), cuts={"x": 0.0})
    # x = 0 runs along the notch's edge for y < 0: only y in (0, 1) has the L on both sides
    x = d.sample_boundary(4000, "x0|x1", rng=0)
    assert (x[:, 0] == 0).all() and (x[:, 1] > 0).all() and (x[:, 1] < 1).all()
    counts, dev = uniform_counts(x[:, 1], 0.0, 1.0)
    assert dev < 5, counts
    check_sides(d, "x0|x1", x, delta=1e-6)
    assert d.geometry.inside(x - [1e-6, 0]).all() and d.geometry.inside(x + [1e-6, 0]).all()
    np.testing.assert_array_equal(d.normals(x), np.tile([1.0, 0.0], (4000, 1)))
    # a horizontal cut at y = 0.5 through the L: the full width (-1, 1)
    d = Domain(l_shape(kind), cuts={"y": 0.5})
    x = d.sample_boundary(2000, "y0|y1", "halton", rng=0)
    assert (x[:, 1] == 0.5).all()
    counts, dev = uniform_counts(x[:, 0], -1.0, 1.0)
    assert dev < 5, counts
    # interior points of one subdomain: inside the L and owned by it
    xs = d.sample_subdomain(1000, "y0", "sobol", rng=0)
    assert d.contains(xs).all() and (xs[:, 1] < 0.5).all() and (owners(d, xs) == 0).all()
    # the piece y < 0.5 of the L has area 3 - 1 = 2 (the notch is missing) and its part y < -0.5 is the
    # 1 x 0.5 strip x < 0: a quarter of the points (Sobol' points, 1000: well within 0.02)
    assert abs(np.mean(xs[:, 1] < -0.5) - 0.25) < 0.02


def test_cut_of_a_disk_with_a_hole_in_space_time():
    g = dde().geometry
    d = Domain(g.Disk([0, 0], 1.0) - g.Disk([0, 0], 0.3), time=(0, 2), cuts={"x": 0.5})
    x = d.sample_boundary(4000, "x0|x1", "pseudo", rng=0)
    half = np.sqrt(1 - 0.25)  # the chord x = 0.5: |y| < √0.75 (the hole does not reach x = 0.5)
    assert (x[:, 0] == 0.5).all() and (np.abs(x[:, 1]) <= half).all() and d.contains(x).all()
    counts, dev = uniform_counts(x[:, 1], -half, half)
    assert dev < 5, counts
    counts, dev = uniform_counts(x[:, 2], 0.0, 2.0)
    assert dev < 5, counts
    check_sides(d, "x0|x1", x, delta=1e-6)
    # through the hole (x = 0): two chords, |y| in (0.3, 1), none of them in the hole
    d = Domain(g.Disk([0, 0], 1.0) - g.Disk([0, 0], 0.3), cuts={"x": 0.0})
    y = d.sample_boundary(2000, "x0|x1", rng=0)[:, 1]
    assert (np.abs(y) > 0.3 - 1e-12).all() and (np.abs(y) < 1).all()
    assert abs(np.mean(y > 0) - 0.5) < 0.05


def test_product_cuts_in_space_and_time():
    d = Domain(dde().geometry.Interval(-1, 1), time=(0, 1), cuts={"t": [0.5], "x": [0.0]})
    assert list(d.subdomains) == ["x0_t0", "x0_t1", "x1_t0", "x1_t1"]  # coordinate order, whatever the dict's
    assert {k: f.sides for k, f in d.interfaces.items()} == {
        "x0_t0|x1_t0": ("x0_t0", "x1_t0"),
        "x0_t1|x1_t1": ("x0_t1", "x1_t1"),
        "x0_t0|x0_t1": ("x0_t0", "x0_t1"),
        "x1_t0|x1_t1": ("x1_t0", "x1_t1"),
    }
    x = d.sample_boundary(1000, "x0_t1|x1_t1", "hammersley", rng=0)
    assert (x[:, 0] == 0).all() and (x[:, 1] >= 0.5).all() and (x[:, 1] <= 1).all()
    check_sides(d, "x0_t1|x1_t1", x, delta=1e-6)
    x = d.sample_boundary(1000, "x1_t0|x1_t1", rng=0)
    assert (x[:, 1] == 0.5).all() and (x[:, 0] >= 0).all() and (x[:, 0] <= 1).all()
    check_sides(d, "x1_t0|x1_t1", x, delta=1e-6)
    # each subdomain's interior points are its own, and the predicates partition the domain
    for k, name in enumerate(d.subdomains):
        xs = d.sample_subdomain(500, name, "sobol", rng=k)
        assert d.contains(xs).all() and (owners(d, xs) == k).all()
    x = d.sample_interior(2000, rng=0)
    claims = np.stack([p(x) for p in d.subdomains.values()])
    assert (claims.sum(0) == 1).all()


def test_product_cuts_of_an_l_leave_out_the_empty_piece():
    d = Domain(polygon(L_VERTICES), cuts={"x": 0.5, "y": -0.5})
    # the piece x > 0.5, y < -0.5 lies in the notch: no subdomain, and no interface touches it
    assert list(d.subdomains) == ["x0_y0", "x0_y1", "x1_y1"]
    assert {k: f.sides for k, f in d.interfaces.items()} == {
        "x0_y1|x1_y1": ("x0_y1", "x1_y1"),
        "x0_y0|x0_y1": ("x0_y0", "x0_y1"),
    }
    x = d.sample_boundary(1000, "x0_y1|x1_y1", rng=0)  # x = 0.5 inside the L: y in (0, 1)
    assert (x[:, 0] == 0.5).all() and (x[:, 1] > 0).all() and (x[:, 1] < 1).all()
    x = d.sample_boundary(1000, "x0_y0|x0_y1", rng=0)  # y = -0.5 inside the L: x in (-1, 0)
    assert (x[:, 1] == -0.5).all() and (x[:, 0] > -1).all() and (x[:, 0] < 0).all()
    check_sides(d, "x0_y0|x0_y1", x, delta=1e-6)


def test_user_names_for_subdomains_and_interfaces():
    d = burgers_split(subdomain_names=["left", "strip", "right"], interface_names={"strip|right": "outlet"})
    assert list(d.subdomains) == ["left", "strip", "right"]
    assert list(d.interfaces) == ["left|strip", "outlet"] and d.interfaces["outlet"].sides == ("strip", "right")
    d = burgers_split(subdomain_names={"x1": "strip"})
    assert list(d.subdomains) == ["x0", "strip", "x2"] and list(d.interfaces) == ["x0|strip", "strip|x2"]
    assert (d.sample_boundary(10, "strip|x2", rng=0)[:, 0] == 0.1).all()
    # positions in any order, as a numpy array too: sorted along the axis
    d = Domain(dde().geometry.Interval(-1, 1), time=(0, 1), cuts={"x": np.array([0.1, -0.1])})
    assert d.cuts["x"].tolist() == [-0.1, 0.1] and d.interfaces["x0|x1"].value == -0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"cuts": {"z": 0.0}}, r"^cuts: unknown axis 'z'; this domain's coordinates are x, y$"),
        ({"cuts": {"x": 1.5}}, r"^cut x = 1.5 is outside the domain: it must lie strictly inside \(-1, 1\)$"),
        ({"cuts": {"y": [0.0, -1.0]}}, r"^cut y = -1 is outside the domain"),
        ({"cuts": {"x": [0.2, 0.2]}}, r"^cuts on 'x' repeat the position 0.2$"),
        ({"cuts": {"x": "0.5"}}, r"^cuts on 'x' must be one finite number or a non-empty list of them"),
        ({"cuts": {"x": [np.nan]}}, r"^cuts on 'x' must be one finite number"),
        ({"cuts": {"x": np.zeros((2, 2))}}, r"^cuts on 'x' must be one finite number .* got \[\[0.0, 0.0\], "),
        ({"cuts": [0.5]}, r"^cuts must map coordinate names to positions"),
        ({"cuts": {"x": 0.0}, "interface_names": {"x0|x1": "left"}}, r"^interface name 'left' is also a boundary"),
        ({"cuts": {"x": 0.0}, "interface_names": {"a|b": "c"}}, r"^interface_names: no interface 'a\|b' to rename"),
        ({"cuts": {"x": 0.0}, "subdomain_names": ["a"]}, r"^subdomain_names: the cuts give 2 subdomains \(x0, x1\)"),
        ({"cuts": {"x": 0.0}, "subdomain_names": ["a", "a"]}, r"^subdomain_names: 'a' names two subdomains$"),
        ({"cuts": {"x": 0.0}, "subdomain_names": ["a", ""]}, r"^subdomain_names: a name must be a non-empty string"),
        ({"subdomain_names": ["a", "b"]}, r"^subdomain_names and interface_names name the pieces of cuts"),
    ],
)
def test_bad_cuts_get_one_clear_error(kwargs, message):
    square = dde().geometry.Rectangle([-1, -1], [1, 1])
    with pytest.raises(ValueError, match=message) as err:
        Domain(square, {"left": lambda x: np.isclose(x[:, 0], -1)}, **kwargs)
    assert "\n" not in str(err.value)


def test_more_bad_cuts():
    g = dde().geometry
    with pytest.raises(ValueError, match=r"^interface name 'wall' is also a boundary"):  # a polygon's edge name
        Domain(
            polygon([(0, 0), (1, 0), (1, 1), (0, 1)], ["wall"] * 4), cuts={"x": 0.5}, interface_names={"x0|x1": "wall"}
        )
    with pytest.raises(ValueError, match=r"^cut x = 0 does not cross the CSGUnion"):  # the gap between two disks
        Domain(g.Disk([-2, 0], 1) | g.Disk([2, 0], 1), cuts={"x": 0.0})
    with pytest.raises(ValueError, match=r"^cut t = 1 is outside the domain"):
        Domain(g.Interval(0, 1), time=(0, 1), cuts={"t": 1.0})
    d = burgers_split()
    with pytest.raises(KeyError, match="unknown boundary 'x0|x2'"):
        d.sample_boundary(10, "x0|x2")
    with pytest.raises(KeyError, match="unknown subdomain 'x3'"):
        d.sample_subdomain(10, "x3")


def test_an_uncut_domain_has_no_subdomains_or_interfaces():
    d = Domain(dde().geometry.Rectangle([0, 0], [1, 1]))
    assert d.cuts == {} and d.subdomains == {} and d.interfaces == {}
    x = np.array([[0.5, 0.5], [0.0, 0.5]])
    np.testing.assert_array_equal(d.normals(x), [[0.0, 0.0], [-1.0, 0.0]])  # zero inside, as ever


# --- end to end: Poisson on two subdomains of the unit square, joined at y = 0.5 ---------------


def _u(x):
    return torch.sin(np.pi * x[:, 0]) * torch.sin(np.pi * x[:, 1])


class Field(torch.nn.Module):
    def __init__(self, u):
        super().__init__()
        self.u = u

    def forward(self, x):
        return self.u(x)[:, None]


def _poisson_split():
    from sciml.problems.base import Condition, Problem

    domain = Domain(dde().geometry.Rectangle([0, 0], [1, 1]), cuts={"y": 0.5}, subdomain_names=["bottom", "top"])
    f = lambda x: 2 * np.pi**2 * _u(x)  # -Δu = f
    problem = Problem(
        "poisson_split",
        ("x", "y"),
        ("u",),
        {},
        domain=domain,
        equations={"pde": lambda du, p: -du("x", "x") - du("y", "y") - f(du.x)},
        conditions={
            "wall": Condition("boundary", lambda du, p: du()),
            "interface_u": Condition("boundary:bottom|top", lambda a, b, p: a() - b(), ("bottom", "top")),
            "interface_flux": Condition(
                "boundary:bottom|top", lambda a, b, p: a.dn() - b.dn(), ("bottom", "top"), normals=True
            ),
        },
        subdomains=domain.subdomains,
    )
    return problem


def _losses(problem, top):
    from pinns.pinn import PINN
    from sciml.data.collocation import CollocationData

    data = CollocationData(problem, n_interior=400, n_boundary=200, seed=0).to(dtype=torch.float64)
    batch = data.next_batch()
    iface = batch["interface_u"].numpy()
    assert (iface[:, 1] == 0.5).all() and len(iface) == 200  # the interface's points, from the domain
    np.testing.assert_array_equal(batch["normals:interface_flux"].numpy(), np.tile([0.0, 1.0], (200, 1)))
    model = SubdomainNet({"bottom": Field(_u), "top": Field(top)}, problem.subdomains)
    losses = PINN(problem, model, derivatives="autograd").loss(batch)
    return {k.split("/")[-1]: float(v.detach()) for k, v in losses.items()}


def test_poisson_on_two_subdomains_exact_solution_satisfies_every_condition():
    problem = _poisson_split()
    exact = _losses(problem, _u)
    assert set(exact) == {"pde", "wall", "interface_u", "interface_flux"}, exact
    assert all(v < 1e-20 for v in exact.values()), exact  # float64 mean squares: RMS residuals < 1e-10

    # a jump of 0.1 in u across the interface (a constant added above it: same flux, same PDE)
    jump = _losses(problem, lambda x: _u(x) + 0.1)
    assert abs(jump["interface_u"] - 0.01) < 1e-12 and jump["interface_flux"] < 1e-20 and jump["pde"] < 1e-20

    # a kink: u + 0.2 (y - 1/2) above (harmonic, continuous): the flux jumps by 0.2, u does not
    kink = _losses(problem, lambda x: _u(x) + 0.2 * (x[:, 1] - 0.5))
    assert abs(kink["interface_flux"] - 0.04) < 1e-12 and kink["interface_u"] < 1e-20 and kink["pde"] < 1e-20


def test_interface_normals_hold_where_the_cut_meets_the_boundary():
    """A flux condition on an interface gets the interface's normal at every point, also at the
    ends of the cut on the outer boundary (where the boundary's own normal would be wrong): the
    data (normals:<condition>) and the PINN's own candidates (a selector's pool) agree."""
    from pinns.pinn import PINN
    from sciml.data.collocation import CollocationData

    problem = _poisson_split()
    ends = np.array([[0.0, 0.5], [1.0, 0.5], [0.3, 0.5]])
    cond = problem.conditions["interface_flux"]
    np.testing.assert_array_equal(cond.normals_at(problem.domain, ends), np.tile([0.0, 1.0], (3, 1)))
    np.testing.assert_array_equal(problem.conditions["wall"].normals_at(problem.domain, ends[:2]), [[-1, 0], [1, 0]])
    data = CollocationData(problem, n_interior=16, n_boundary=64, seed=0)
    data.set_points("interface_flux", ends)  # as a selector would, with the ends of the cut among them
    np.testing.assert_array_equal(data.normals["interface_flux"], np.tile([0.0, 1.0], (3, 1)))
    model = SubdomainNet({"bottom": Field(_u), "top": Field(_u)}, problem.subdomains)
    own = PINN(problem, model, derivatives="autograd").normals("interface_flux", torch.as_tensor(ends))
    np.testing.assert_array_equal(own.numpy(), np.tile([0.0, 1.0], (3, 1)))
