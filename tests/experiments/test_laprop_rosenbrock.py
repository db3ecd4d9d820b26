"""fig=2's experiment function: its rows agree with the simulation they summarise."""
import numpy as np
import pandas as pd

from repro.experiments.laprop.rosenbrock import rosenbrock
from repro.runner.context import RunContext


def rows(seed=0, **kw):
    p = {**dict(optimizer="adam", eps=1e-8, mu=0.9, nus=[0.999, 0.1], lr=1e-3, T=300, chains=5, record_every=50,
                noise="cauchy", sigma=1.0), **kw}
    return pd.DataFrame(list(rosenbrock(p, RunContext(seed=seed))))


def test_rows_per_nu_and_chain_and_median_curve():
    df = rows()
    final = df[df.metric == "final_loss"]
    assert len(final) == 2 * 5 and set(final.chain) == set(range(5)) and (df.eps == 1e-8).all()
    curve = df[df.metric == "median_loss"]
    assert sorted(set(curve.step)) == [50, 100, 150, 200, 250, 300]
    for nu in (0.999, 0.1):   # the curve's last point is the median of the chains' final losses
        last = curve[(curve.nu == nu) & (curve.step == 300)].value.item()
        assert np.isclose(last, final[final.nu == nu].value.median(), rtol=1e-12)
    assert (df[df.metric == "max_step"].value >= 0.999).all()   # the first step alone is ~lr


def test_optimizers_see_the_same_noise():
    # Same seed, same noise stream: at nu = 0.999 (matched) Adam and LaProp end close chain by chain, while a
    # different seed does not (the comparison is paired).
    a, b, c = rows(), rows(optimizer="laprop", eps=1e-15), rows(seed=1, optimizer="laprop", eps=1e-15)
    sel = lambda d: d[(d.metric == "final_loss") & (d.nu == 0.999)].value.to_numpy()  # noqa: E731
    assert np.abs(sel(a) - sel(b)).max() < 0.2 * np.abs(sel(b) - sel(c)).max()
