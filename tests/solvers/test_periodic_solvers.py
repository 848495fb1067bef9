"""Periodic pseudo-spectral solvers: 2D Navier--Stokes (vorticity, CNAB2) and 1D Burgers (ETDRK4)."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.solvers import burgers_cole_hopf, gaussian_random_field
from sciml.solvers.burgers_spectral import burgers_initial_conditions, etdrk4_coefficients, solve_burgers_periodic
from sciml.solvers.navier_stokes import (
    advection_term,
    fno_forcing,
    periodic_grf,
    resample_periodic,
    solve_navier_stokes,
)


def _grid2(n):
    x = np.arange(n) / n
    return np.meshgrid(x, x, indexing="ij")


def _mode_coefficients(u):
    """Discrete Fourier coefficients c_m = n^-d sum u e^{-2 pi i m.x} over the trailing axes."""
    d = 2 if u.ndim == 3 else 1
    return np.fft.fftn(u, axes=tuple(range(-d, 0))) / u.shape[-1] ** d


# --------------------------------------------------------------------------------------------
# periodic Gaussian random field
# --------------------------------------------------------------------------------------------


def test_grf_shape_seed_and_zero_mean():
    u1 = periodic_grf(5, 32, rng=11)
    u2 = periodic_grf(5, 32, rng=np.random.default_rng(11))
    assert u1.shape == (5, 32, 32) and u1.dtype == np.float64
    np.testing.assert_array_equal(u1, u2)
    assert not np.allclose(u1, periodic_grf(5, 32, rng=12))
    assert np.abs(u1.mean(axis=(1, 2))).max() < 1e-15 * np.abs(u1).max() * 32
    assert periodic_grf(3, 17, dim=1, rng=0).shape == (3, 17)
    assert periodic_grf(0, 8).shape == (0, 8, 8)


def test_grf_mode_variances_follow_the_covariance():
    """E|c_m|^2 = sigma^2 (4 pi^2 |m|^2 + tau^2)^-alpha, default sigma = tau^(alpha - d/2) = 7^1.5."""
    n_samples, n, alpha, tau = 3000, 16, 2.5, 7.0
    c2 = np.abs(_mode_coefficients(periodic_grf(n_samples, n, alpha, tau, rng=5))) ** 2
    var = c2.mean(axis=0)

    def lam(m):
        return 7.0**3 * (4 * np.pi**2 * (m[0] ** 2 + m[1] ** 2) + tau**2) ** -alpha

    tol = 5.0 / np.sqrt(n_samples)  # |c|^2 / E|c|^2 is Exp(1): standard deviation 1
    for m in [(1, 0), (0, 1), (-1, 2), (2, 3), (5, -1), (7, 7)]:
        assert abs(var[m] / lam(m) - 1.0) < tol, (m, var[m], lam(m))
    # the decay between two modes: ratio of the variances of |m| = 1 and |m| = 3
    ratio = var[1, 0] / var[3, 0]
    assert ratio == pytest.approx(((36 * np.pi**2 + 49) / (4 * np.pi**2 + 49)) ** 2.5, rel=2 * tol)
    assert var[0, 0] < 1e-30
    # an explicit sigma scales the field
    u_s = periodic_grf(4, 16, alpha, tau, sigma=2.0, rng=5)
    np.testing.assert_allclose(u_s, periodic_grf(4, 16, alpha, tau, rng=5) * 2.0 / 7.0**1.5, rtol=1e-12)


def test_grf_is_periodic_and_stationary():
    """Translation invariance on the torus: the wrap-around increment is distributed like the inner ones.

    The Neumann (cosine) field of the Darcy data fails this check, so it has power.
    """
    n, n_samples = 32, 3000
    u = periodic_grf(n_samples, n, rng=2)
    inner = np.mean((u[:, 1:, :] - u[:, :-1, :]) ** 2, axis=(0, 2))
    wrap = np.mean((u[:, 0, :] - u[:, -1, :]) ** 2)
    assert abs(wrap / inner.mean() - 1.0) < 0.06
    pointwise = u.var(axis=0)
    assert pointwise.std() / pointwise.mean() < 0.1
    neumann = gaussian_random_field(n_samples, n, rng=2)
    inner_n = np.mean((neumann[:, 1:, :] - neumann[:, :-1, :]) ** 2)
    wrap_n = np.mean((neumann[:, 0, :] - neumann[:, -1, :]) ** 2)
    assert wrap_n / inner_n > 5.0


# --------------------------------------------------------------------------------------------
# Navier--Stokes
# --------------------------------------------------------------------------------------------


def test_advection_matches_the_analytic_jacobian():
    """psi = sin(2 pi x) cos(4 pi y) + cos(6 pi x): u.grad w in closed form (checks the signs of u)."""
    n = 32
    x, y = _grid2(n)
    p2 = 2 * np.pi
    psi_a, psi_b = np.sin(p2 * x) * np.cos(2 * p2 * y), np.cos(3 * p2 * x)
    w = 5 * p2**2 * psi_a + 9 * p2**2 * psi_b  # -lap psi
    u1 = -2 * p2 * np.sin(p2 * x) * np.sin(2 * p2 * y)  # psi_y
    u2 = -p2 * np.cos(p2 * x) * np.cos(2 * p2 * y) + 3 * p2 * np.sin(3 * p2 * x)  # -psi_x
    w_x = 5 * p2**3 * np.cos(p2 * x) * np.cos(2 * p2 * y) - 27 * p2**3 * np.sin(3 * p2 * x)
    w_y = -10 * p2**3 * np.sin(p2 * x) * np.sin(2 * p2 * y)
    exact = u1 * w_x + u2 * w_y
    assert np.abs(exact).max() > 1e3
    np.testing.assert_allclose(advection_term(w), exact, atol=1e-10 * np.abs(exact).max())


def _band_limited(rng, n, kmax, n_samples=1):
    c = rng.normal(size=(n_samples, n, n)) + 1j * rng.normal(size=(n_samples, n, n))
    m = np.fft.fftfreq(n, 1.0 / n)
    keep = (np.abs(m)[:, None] <= kmax) & (np.abs(m)[None, :] <= kmax)
    return np.fft.ifft2(c * keep).real * n


def test_nonlinear_term_is_dealiased():
    """Band-limited w (|m| <= K = 21 at n = 64): the 2/3-rule product equals the exact (2x padded) product
    projected onto |m| <= K; the plain grid product does not; a solver step creates no modes above K."""
    n, kmax = 64, 21
    rng = np.random.default_rng(3)
    w = _band_limited(rng, n, kmax, 2)
    # exact product on the 2n grid (no aliasing: the product has modes up to 42 < 64), own implementation
    big = 2 * n
    m = np.fft.fftfreq(n, 1.0 / n).astype(int)
    into_big = (slice(None),) + np.ix_(m % big, m % big)  # the n x n modes inside the 2n x 2n spectrum
    pad = np.zeros((2, big, big), dtype=complex)
    pad[into_big] = np.fft.fft2(w)
    mb = np.fft.fftfreq(big, 1.0 / big)
    kx, ky = 2 * np.pi * mb[:, None], 2 * np.pi * mb[None, :]
    k2 = kx**2 + ky**2
    k2[0, 0] = 1.0
    psi = pad / k2

    def to_grid(h):
        return np.fft.ifft2(h).real * (big / n) ** 2

    prod = to_grid(1j * ky * psi) * to_grid(1j * kx * pad) + to_grid(-1j * kx * psi) * to_grid(1j * ky * pad)
    prod_hat = np.fft.fft2(prod) * (n / big) ** 2
    keep = (np.abs(mb)[:, None] <= kmax) & (np.abs(mb)[None, :] <= kmax)
    exact_hat = (prod_hat * keep)[into_big]
    exact = np.fft.ifft2(exact_hat).real
    scale = np.abs(exact).max()
    np.testing.assert_allclose(advection_term(w), exact, atol=1e-12 * scale)
    assert np.abs(advection_term(w, dealias=False) - exact).max() > 1e-2 * scale
    # the operator sees only the truncated field: modes above K of a full-spectrum w do not enter
    w_full = rng.normal(size=(n, n))
    w_trunc = np.fft.ifft2(np.fft.fft2(w_full) * ((np.abs(m)[:, None] <= kmax) & (np.abs(m)[None, :] <= kmax))).real
    np.testing.assert_allclose(advection_term(w_full), advection_term(w_trunc), atol=1e-12 * np.abs(w_full).max())
    # one solver step (and twenty) from a band-limited start keeps the top third of the modes empty
    for steps in (1, 20):
        out = solve_navier_stokes(w, steps * 1e-3, 1e-3, forcing="fno")
        spec = np.abs(np.fft.fft2(out[:, 0]))
        high = (np.abs(m)[:, None] > kmax) | (np.abs(m)[None, :] > kmax)
        assert spec[:, high].max() < 1e-13 * spec.max()


def test_mean_vorticity_is_conserved():
    n = 32
    w0 = periodic_grf(3, n, rng=4) * 5.0
    out = solve_navier_stokes(w0, 0.5, 5e-3, n_record=5)
    assert np.abs(out.mean(axis=(-2, -1))).max() < 1e-12
    shifted = solve_navier_stokes(w0 + 0.3, 0.5, 5e-3, n_record=5)
    np.testing.assert_allclose(shifted.mean(axis=(-2, -1)), 0.3, atol=1e-12)
    # a mean-carrying forcing raises the mean linearly: d/dt mean(w) = mean(f)
    forced = solve_navier_stokes(w0, 0.5, 5e-3, forcing=fno_forcing(n) + 0.2, n_record=5)
    np.testing.assert_allclose(forced.mean(axis=(-2, -1)), np.tile(0.2 * np.linspace(0.1, 0.5, 5), (3, 1)), atol=1e-12)
    # the uniform mean does not advect: the fluctuation is the same as without it
    np.testing.assert_allclose(shifted - 0.3, out, atol=1e-12)


@pytest.mark.parametrize("n", [32, 33])
def test_taylor_green_decays_exactly(n):
    """A Laplacian eigenfunction has u.grad w = 0, so unforced w(t) = exp(-nu |k|^2 t) w0.

    Here the |m|^2 = 25 combination of (3, 4), (4, 3), (5, 0), (0, 5) modes: u and grad w are not
    parallel mode by mode, their products cancel only in the sum. Crank--Nicolson is second order:
    the error falls 4x when dt halves. Odd grids work too.
    """
    x, y = _grid2(n)
    p2 = 2 * np.pi
    w0 = (
        np.sin(p2 * (3 * x + 4 * y))
        + 0.7 * np.cos(p2 * (4 * x - 3 * y))
        + 0.5 * np.sin(p2 * 5 * x)
        - 0.3 * np.cos(p2 * (5 * y) + 1.0)
    )
    assert np.abs(advection_term(w0)).max() < 1e-10
    nu, t_end = 0.01, 0.2
    rate = nu * p2**2 * 25
    errs = []
    for dt in (4e-3, 2e-3, 1e-3):
        w = solve_navier_stokes(w0, t_end, dt, nu=nu, forcing=None, n_record=2)
        exact = np.exp(-rate * np.array([0.1, 0.2]))[:, None, None] * w0
        errs.append(np.abs(w - exact).max() / np.abs(exact).max())
    assert errs[-1] < 2e-5
    for a, b in zip(errs, errs[1:]):
        assert 3.8 < a / b < 4.2, errs
    # the FNO viscosity on the basic vortex array sin(2 pi x) sin(2 pi y), to 1e-6 relative
    wv = np.sin(p2 * x) * np.sin(p2 * y)
    out = solve_navier_stokes(wv, 1.0, 0.02, nu=1e-3, forcing=None)
    exact = np.exp(-1e-3 * 2 * p2**2) * wv
    assert np.abs(out - exact).max() < 1e-6 * np.abs(exact).max()


def test_kolmogorov_forcing_keeps_its_steady_state():
    """f = nu |k|^2 w_s for an eigenfunction w_s makes w_s an exact steady state (per-sample forcing)."""
    n, nu = 32, 0.01
    x, y = _grid2(n)
    ws = np.stack([np.cos(2 * np.pi * 2 * x), np.sin(2 * np.pi * (x + y))])
    k2 = (2 * np.pi) ** 2 * np.array([4.0, 2.0])[:, None, None]
    out = solve_navier_stokes(ws, 2.0, 0.05, nu=nu, forcing=nu * k2 * ws, n_record=2)
    np.testing.assert_allclose(out, np.repeat(ws[:, None], 2, axis=1), atol=1e-12)


def test_second_order_in_time_on_a_forced_nonlinear_flow():
    """CNAB2 against a dt/32 reference: the error falls ~4x per halving of dt."""
    n = 32
    w0 = periodic_grf(1, n, rng=8)[0] * 5.0  # |w| ~ 1: advection matters
    assert np.abs(advection_term(w0)).max() > 0.5 * np.abs(w0).max()
    kw = dict(nu=5e-3, forcing="fno", n_record=2)
    ref = solve_navier_stokes(w0, 1.0, 1.0 / 1600, **kw)
    errs = [np.abs(solve_navier_stokes(w0, 1.0, dt, **kw) - ref).max() for dt in (1 / 50, 1 / 100, 1 / 200)]
    assert errs[-1] < 1e-4 * np.abs(ref).max()
    for a, b in zip(errs, errs[1:]):
        assert 3.5 < a / b < 4.5, errs


def test_records_batches_and_fine_to_coarse_storage():
    n = 32
    w0 = periodic_grf(5, n, rng=9)
    full = solve_navier_stokes(w0, 0.3, 0.01, n_record=3)
    assert full.shape == (5, 3, n, n)
    # recordings are intermediate states of one run (dt reduced to fit: 0.3/3 per record)
    part = solve_navier_stokes(w0, 0.1, 0.01)
    np.testing.assert_allclose(full[:, 0], part[:, 0], atol=1e-13)
    np.testing.assert_allclose(solve_navier_stokes(w0, 0.3, 0.01, n_record=3, batch_size=2), full, atol=1e-13)
    np.testing.assert_allclose(solve_navier_stokes(w0[1], 0.3, 0.01, n_record=3), full[1], atol=1e-13)
    coarse = solve_navier_stokes(w0, 0.3, 0.01, n_record=3, n_out=16)
    np.testing.assert_allclose(coarse, resample_periodic(full, 16), atol=1e-13)
    sub = solve_navier_stokes(w0, 0.3, 0.01, n_record=3, n_out=16, resample="subsample")
    np.testing.assert_array_equal(sub, full[..., ::2, ::2])


def test_resample_periodic_is_exact_for_band_limited_data():
    n = 24
    x, y = _grid2(n)
    f = lambda x, y: np.sin(2 * np.pi * (2 * x - y)) + np.cos(2 * np.pi * 3 * y) + 0.2
    u = f(x, y)
    xf, yf = _grid2(40)
    np.testing.assert_allclose(resample_periodic(u, 40), f(xf, yf), atol=1e-13)
    xc, yc = _grid2(9)
    np.testing.assert_allclose(resample_periodic(u, 9), f(xc, yc), atol=1e-13)
    g = np.sin(2 * np.pi * 3 * np.arange(n) / n)
    np.testing.assert_allclose(resample_periodic(g, 48, dim=1), np.sin(2 * np.pi * 3 * np.arange(48) / 48), atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(w0=np.zeros((8, 6))), "square"),
        (dict(w0=np.zeros(8)), "w0 must have shape"),
        (dict(w0=np.zeros((2, 2, 8, 8))), "w0 must have shape"),
        (dict(w0=np.zeros((3, 3))), "n >= 4"),
        (dict(w0=np.full((8, 8), np.nan)), "finite"),
        (dict(dt=0.0), "dt"),
        (dict(dt=-1e-3), "dt"),
        (dict(dt=np.inf), "dt"),
        (dict(t_end=0.0), "t_end"),
        (dict(nu=-1e-3), "nu"),
        (dict(n_record=0), "n_record"),
        (dict(n_record=2.5), "n_record"),
        (dict(forcing="kolmogorov"), "forcing"),
        (dict(forcing=np.zeros((4, 4))), "forcing"),
        (dict(n_out=3, resample="subsample"), "n_out"),
        (dict(n_out=4, resample="spline"), "resample"),
        (dict(batch_size=0), "batch_size"),
    ],
)
def test_navier_stokes_bad_inputs_raise(kwargs, match):
    args = dict(w0=np.zeros((2, 8, 8)), t_end=0.1, dt=1e-2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve_navier_stokes(**args)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=0.0), "alpha"),
        (dict(tau=-1.0), "tau"),
        (dict(sigma=-1.0), "sigma"),
        (dict(dim=3), "dim"),
        (dict(n_samples=-1), "n_samples"),
        (dict(n=1), "n must"),
        (dict(rng="seed"), "rng"),
    ],
)
def test_grf_bad_inputs_raise(kwargs, match):
    args = dict(n_samples=2, n=8)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        periodic_grf(**args)


def test_resample_bad_inputs_raise():
    with pytest.raises(ValueError, match="equal grid axes"):
        resample_periodic(np.zeros((4, 6)), 2)
    with pytest.raises(ValueError, match="n_out"):
        resample_periodic(np.zeros((6, 6)), 1)
    with pytest.raises(ValueError, match="method"):
        resample_periodic(np.zeros((6, 6)), 3, method="linear")
    with pytest.raises(ValueError, match="dim"):
        resample_periodic(np.zeros((6, 6)), 3, dim=0)


# --------------------------------------------------------------------------------------------
# Burgers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nu, n, dt, tol", [(0.1, 64, None, 1e-7), (0.02, 256, 2.5e-3, 1e-8)])
def test_burgers_matches_cole_hopf(nu, n, dt, tol):
    """Exact solution through the Cole--Hopf reference on [-1, 1].

    ``burgers_cole_hopf(X, T, mu)`` solves U_T + U U_X = mu U_XX with U(X, 0) = -sin(pi X), 2-periodic.
    Put u(x, t) = U(X, T) with X = 2x - 1, T = 2t: then u_t = 2 U_T, u_x = 2 U_X, u_xx = 4 U_XX and
    u_t + u u_x - nu u_xx = 2 (U_T + U U_X - 2 nu U_XX), so u solves our equation (period 1 in x)
    iff U solves the reference one with mu = 2 nu; the start is u(x, 0) = -sin(2 pi x - pi) = sin(2 pi x).
    """
    x = np.arange(n) / n
    times = np.array([0.25, 0.5, 0.75, 1.0])
    u = solve_burgers_periodic(np.sin(2 * np.pi * x), 1.0, nu=nu, dt=dt, n_record=4)
    assert u.shape == (4, n)
    exact = burgers_cole_hopf(2 * x[None] - 1, 2 * times[:, None], 2 * nu)
    assert np.abs(u - exact).max() < tol


def test_burgers_conserves_mean_and_dissipates_energy():
    u0 = burgers_initial_conditions(4, 128, rng=1) + np.array([0.0, 0.7, -0.4, 1.5])[:, None]
    u = solve_burgers_periodic(u0, 1.0, n_record=20)
    np.testing.assert_allclose(u.mean(axis=-1), np.repeat(u0.mean(axis=-1)[:, None], 20, axis=1), atol=1e-13)
    energy = np.concatenate([np.mean(u0**2, axis=-1)[:, None], np.mean(u**2, axis=-1)], axis=1)
    assert np.all(np.diff(energy, axis=1) < 0)
    # without viscosity the dealiased (Galerkin) nonlinear term conserves energy (before the shock)
    x = np.arange(128) / 128
    v0 = np.sin(2 * np.pi * x)
    v = solve_burgers_periodic(v0, 0.05, nu=0.0, dt=1e-3, n_record=5)
    np.testing.assert_allclose(np.mean(v**2, axis=-1), np.mean(v0**2), rtol=1e-10)


def test_burgers_nonlinear_term_is_dealiased():
    """A start with modes up to K = (n-1)//3 only: the 2/3 rule never fills the modes above K, and
    without viscosity the Galerkin-truncated flux conserves the energy of this rough start."""
    n, kmax = 48, 15
    rng = np.random.default_rng(4)
    c = np.zeros(n // 2 + 1, dtype=complex)
    c[1 : kmax + 1] = (rng.normal(size=kmax) + 1j * rng.normal(size=kmax)) * n / 8
    u0 = np.fft.irfft(c, n=n)
    u = solve_burgers_periodic(u0, 0.02, nu=0.0, dt=2e-4, n_record=4)
    spec = np.abs(np.fft.rfft(u, axis=-1))
    assert spec[:, kmax + 1 :].max() < 1e-13 * spec.max()
    assert np.abs(u - u0).max() > 0.1 * np.abs(u0).max()  # the flux did act
    np.testing.assert_allclose(np.mean(u**2, axis=-1), np.mean(u0**2), rtol=1e-9)


def test_burgers_fourth_order_in_time():
    """ETDRK4 against a dt/64 reference in a convection-dominated case: order ~4 per halving of dt."""
    n, nu = 128, 0.02
    x = np.arange(n) / n
    u0 = np.sin(2 * np.pi * x) + 0.5 * np.cos(4 * np.pi * x + 1.0)
    ref = solve_burgers_periodic(u0, 1.0, nu=nu, dt=1 / 1024)
    errs = [np.abs(solve_burgers_periodic(u0, 1.0, nu=nu, dt=1 / m) - ref).max() for m in (16, 32, 64)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((orders > 3.6) & (orders < 4.4)), (errs, orders)


def test_burgers_initial_conditions_covariance():
    """FNO Burgers inputs: E|c_m|^2 = 625 (4 pi^2 m^2 + 25)^-2, zero mean, reproducible."""
    n_samples, n = 4000, 32
    u = burgers_initial_conditions(n_samples, n, rng=6)
    assert u.shape == (n_samples, n)
    np.testing.assert_array_equal(u[:3], burgers_initial_conditions(3, n, rng=6))
    assert np.abs(u.mean(axis=-1)).max() < 1e-15
    var = np.mean(np.abs(_mode_coefficients(u)) ** 2, axis=0)
    for m in (1, 2, 5, 11):
        lam = 625.0 * (4 * np.pi**2 * m**2 + 25.0) ** -2
        assert abs(var[m] / lam - 1.0) < 5.0 / np.sqrt(n_samples), (m, var[m], lam)


def test_etdrk4_coefficients_limits():
    h = 0.1
    e, e2, q, f1, f2, f3 = etdrk4_coefficients(np.array([0.0, -1e-9, -2.5, -1e6]), h)
    np.testing.assert_allclose([q[0], f1[0], f2[0], f3[0]], [h / 2, h / 6, h / 6, h / 6], rtol=1e-13)
    np.testing.assert_allclose([q[1], f1[1], f2[1], f3[1]], [h / 2, h / 6, h / 6, h / 6], rtol=1e-8)
    z = -2.5
    direct = [
        h * (np.exp(z / 2) - 1) / z,
        h * (-4 - z + np.exp(z) * (4 - 3 * z + z**2)) / z**3,
        h * (2 + z + np.exp(z) * (z - 2)) / z**3,
        h * (-4 - 3 * z - z**2 + np.exp(z) * (4 - z)) / z**3,
    ]
    np.testing.assert_allclose([q[2], f1[2], f2[2], f3[2]], direct, rtol=1e-13)
    z = -1e6  # e^z underflows: the polynomial parts remain
    np.testing.assert_allclose(
        [q[3], f1[3], f2[3], f3[3]],
        [-h / z, h * (-4 - z) / z**3, h * (2 + z) / z**3, h * (-4 - 3 * z - z**2) / z**3],
        rtol=1e-10,
    )
    np.testing.assert_allclose([e[2], e2[2]], [np.exp(-2.5), np.exp(-1.25)])


def test_burgers_fine_to_coarse_and_batches():
    u0 = burgers_initial_conditions(3, 256, rng=2)
    fine = solve_burgers_periodic(u0, 0.5, n_record=2)
    np.testing.assert_allclose(
        solve_burgers_periodic(u0, 0.5, n_record=2, n_out=64), resample_periodic(fine, 64, 1), atol=1e-13
    )
    np.testing.assert_array_equal(
        solve_burgers_periodic(u0, 0.5, n_record=2, n_out=64, resample="subsample"), fine[..., ::4]
    )
    np.testing.assert_allclose(solve_burgers_periodic(u0, 0.5, n_record=2, batch_size=1), fine, atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(u0=np.zeros((2, 2, 8))), "u0 must have shape"),
        (dict(u0=np.zeros(3)), "n >= 4"),
        (dict(u0=np.array([0.0, np.inf, 0.0, 0.0])), "finite"),
        (dict(t_end=-1.0), "t_end"),
        (dict(nu=-0.1), "nu"),
        (dict(dt=0.0), "dt"),
        (dict(n_record=0), "n_record"),
        (dict(n_out=3, resample="subsample"), "n_out"),
        (dict(n_out=4, resample="nearest"), "resample"),
    ],
)
def test_burgers_bad_inputs_raise(kwargs, match):
    args = dict(u0=np.zeros((2, 8)), t_end=1.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solve_burgers_periodic(**args)
