"""The Cole--Hopf reference at small viscosity: METALIC's range ν ∈ [0.001, 0.05] and below.

At ν = 0.001 the Gauss--Hermite rule (200 nodes) is checked against an independent fine
pseudo-spectral solve (slow); below about 1e-3 its nodes miss the integrand's peaks and the
trapezoidal rule takes over, checked against the inviscid solution by characteristics away from
the shock (the viscous correction there is O(ν))."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.solvers import burgers_cole_hopf, solve_burgers_periodic


def inviscid(x: np.ndarray, t: float) -> np.ndarray:
    """The entropy solution of u_t + u u_x = 0, u0 = −sin(πx), at points away from the shock at x = 0:
    u = −sin(πξ) with x = ξ − sin(πξ) t, the foot ξ on the side of x (bisection; x ↦ ξ is monotone there)."""
    lo, hi = np.where(x > 0, 0.0, -1.0), np.where(x > 0, 1.0, 0.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        below = mid - np.sin(np.pi * mid) * t < x
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return -np.sin(np.pi * (lo + hi) / 2)


def test_auto_rule_is_gauss_hermite_where_its_nodes_suffice_and_the_rules_agree():
    """``rule="auto"`` is bit for bit the Gauss--Hermite result for ν ≥ 9.5e-4 (the benchmark's reference
    does not move), and the trapezoidal rule agrees with it there to round-off."""
    x = np.linspace(-1, 1, 401)
    t = np.array([0.05, 0.2, 1 / np.pi, 0.66, 0.99])[:, None]
    for nu in (0.05, 0.01 / np.pi, 0.001):
        hermite = burgers_cole_hopf(x, t, nu, rule="hermite")
        np.testing.assert_array_equal(burgers_cole_hopf(x, t, nu), hermite)
        assert np.abs(burgers_cole_hopf(x, t, nu, rule="trapezoid") - hermite).max() < 1e-12


@pytest.mark.parametrize("nu", [1e-4, 1e-5])
def test_small_viscosity_matches_characteristics_away_from_the_shock(nu):
    """For |x| ≥ 0.3 the viscous solution is the inviscid one up to O(ν) (observed 2ν at t = 0.2, less
    later): within 3ν at t = 0.2, 0.5, 0.99. Gauss--Hermite with 200 nodes is off by more than 0.01 there."""
    x = np.concatenate([np.linspace(-0.95, -0.3, 40), np.linspace(0.3, 0.95, 40)])
    for t in (0.2, 0.5, 0.99):
        u = burgers_cole_hopf(x, t, nu)
        assert np.abs(u - inviscid(x, t)).max() < 3 * nu, t
    assert np.abs(burgers_cole_hopf(x, 0.99, nu, rule="hermite") - inviscid(x, 0.99)).max() > 0.01


def test_bad_rule_one_line():
    with pytest.raises(ValueError, match="^rule must be auto, hermite or trapezoid, got 'simpson'$"):
        burgers_cole_hopf(0.1, 0.5, 0.01, rule="simpson")


@pytest.mark.slow
def test_cole_hopf_at_nu_0_001_matches_a_fine_spectral_solve():
    """ν = 0.001 (METALIC's smallest), t = 0.33, 0.66, 0.99 (a steep shock at x = 0 from t ≈ 1/π):
    pseudo-spectral ETDRK4 (``solve_burgers_periodic``, dealiased) on 2048 and 4096 points, dt = 1e-4.

    ``solve_burgers_periodic`` solves U_T + U U_X = μ U_XX on [0, 1) periodic; u(x, t) = U((x + 1)/2, t/2)
    solves u_t + u u_x = 2μ u_xx on [−1, 1) (2-periodic, as the odd extension of the benchmark), so
    μ = ν/2, U0(X) = −sin(π(2X − 1)) = sin(2πX), recorded at T = t/2. The spectral solution converges to
    the Cole--Hopf values (max difference 7e-4 on 2048 points, 5e-7 on 4096: spectral convergence once the
    shock, of width ~ν, is resolved), so Cole--Hopf is right to better than 2e-6 (about 1e-12 against
    16384 points and dt = 2e-5, a 4-minute run). About 6 s."""
    times = np.array([0.33, 0.66, 0.99])
    gaps = []
    for n in (2048, 4096):
        X = np.arange(n) / n
        u = solve_burgers_periodic(np.sin(2 * np.pi * X), times[-1] / 2, nu=0.0005, dt=1e-4, n_record=3)
        exact = burgers_cole_hopf(2 * X[None] - 1, times[:, None], 0.001)
        gaps.append(np.abs(u - exact).max())
    assert gaps[1] < 2e-6, gaps
    assert gaps[0] > 100 * gaps[1], gaps  # converging to it, not agreeing by chance
