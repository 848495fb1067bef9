"""Which test samples an operator run shows (issue 13 §8): a typical (median-error) and the worst one,
named and labelled by their error, instead of the first ones."""

from __future__ import annotations

import types

import numpy as np
import torch

from operators.supervised import SupervisedOperator, pick_samples, relative_l2
from sciml.data.normalize import IdentityNormalizer
from sciml.mesh import Grid


def test_pick_samples_median_first_then_worst_then_spread():
    errors = [15.0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # the first sample is the worst, as often in practice
    assert [(i, role) for i, role, _ in pick_samples(errors, 2)] == [(5, "median"), (0, "worst")]
    picks = pick_samples(errors, 4)
    assert [role for _, role, _ in picks] == ["median", "worst", "best", "p33"]
    assert picks[0][2] == "median error sample #5 (rel L2 5)" and picks[1][2] == "worst sample #0 (rel L2 15)"
    assert len({i for i, _, _ in pick_samples(errors, 10)}) == 10  # every sample once
    assert pick_samples([0.3], 4) == [(0, "median", "median error sample #0 (rel L2 0.3)")]
    assert pick_samples([np.nan, 0.1, 0.2], 2)[1][:2] == (0, "worst")  # a NaN error is the worst


class Scale(torch.nn.Module):
    def forward(self, x):
        return 0.5 * x


def test_supervised_predict_shows_the_median_and_the_worst_sample():
    g = torch.Generator().manual_seed(0)
    n, size = 7, 8
    x = torch.randn(n, size, size, 1, generator=g, dtype=torch.float64)
    s = torch.tensor([3.0, 0.55, 0.7, 0.5, 1.0, 0.6, 0.8], dtype=torch.float64)  # sample 0 the worst
    y = x * s[:, None, None, None]
    grid = Grid((size, size), ((0.0, 1.0), (0.0, 1.0)))
    data = types.SimpleNamespace(
        support=grid,
        y_normalizer=IdentityNormalizer(),
        x={"test": x},
        y={"test": y},
        raw_x={"test": x},
        input_names=("a",),
        output_names=("u",),
    )
    method = SupervisedOperator(None, Scale(), data)
    errors = relative_l2(0.5 * x, y).numpy()
    out = method.predict(data, n_samples=2)
    med, worst = int(np.argsort(errors)[(n - 1) // 2]), int(np.argmax(errors))
    assert worst == 0 and [stem for stem, _ in out] == [f"median_sample{med:03d}", "worst_sample000"]
    assert method.sample_labels["worst_sample000"] == f"worst sample #0 (rel L2 {errors[0]:.3g})"
    assert method.sample_labels[f"median_sample{med:03d}"].startswith(f"median error sample #{med} (rel L2 ")
    for (_, f), i in zip(out, (med, worst)):
        assert f.names == ("a", "u", "u_ref", "u_error")
        assert np.allclose(f["u_ref"], y[i, ..., 0].numpy()) and np.allclose(f["u"], 0.5 * x[i, ..., 0].numpy())
        assert np.allclose(f["a"], x[i, ..., 0].numpy())
    assert len(method.predict(data, n_samples=20)) == n


def test_comparison_plot_takes_the_sample_label_as_title(tmp_path):
    from sciml.fields import Field
    from sciml.plots import comparison_figure, plot_comparison

    grid = Grid((6, 5), ((0.0, 1.0), (0.0, 1.0)))
    ref = Field(np.arange(30.0).reshape(6, 5, 1), grid, ("u",))
    pred = ref.with_values(ref.values * 1.1)
    label = "worst sample #7 (rel L2 0.1)"
    assert comparison_figure(pred, ref, title=label)._suptitle.get_text() == label
    assert comparison_figure(pred, ref)._suptitle is None
    assert plot_comparison(pred, ref, tmp_path / "c.png", title=label).stat().st_size > 0


def test_labels_name_the_samples_by_the_ids_given():
    """``ids`` names the samples in the labels (e.g. their file indices), whatever their digits:
    position 1 is file sample 12, position 2 file sample 1."""
    from operators.supervised import pick_samples

    errors = [0.5, 0.1, 0.3]
    picks = pick_samples(errors, 3, ids=[7, 12, 1])
    assert [p[0] for p in picks] == [2, 0, 1]  # positions: median, worst, best
    assert [p[2] for p in picks] == [
        "median error sample #1 (rel L2 0.3)",
        "worst sample #7 (rel L2 0.5)",
        "best sample #12 (rel L2 0.1)",
    ]
