"""meta_alignment fig=12: the synthetic supervised-vs-alignment simulator against its closed forms."""
import numpy as np
import pytest

from repro.experiments.meta_alignment.tradeoff import calibrate_sigma2, tradeoff


class Ctx:
    def __init__(self, seed):
        self.seed = seed

    def seed_for(self, name):
        return 1000 * self.seed + sum(map(ord, name))


BASE = dict(d=20, n1=250, n2=40, w_scale=0.3, target_line=0.58, calib_draws=400, calib_seed=3, train_draws=5,
            n_aligns=[100, 1000])


def rows(method, seed, **kw):
    return list(tradeoff({**BASE, "method": method, "sigma_w2": 1.5, **kw}, Ctx(seed)))


def test_calibration_matches_ols_closed_form():
    # E||w2 - u2||^2 = sigma^2 d / (n2 - d - 1) for OLS with x ~ N(0, I): sigma^2 = 0.58 * 19 / 20 = 0.551
    s2 = calibrate_sigma2(20, 40, 0.58, 400, 3, 0.3)
    assert abs(s2 / (0.58 * 19 / 20) - 1) < 0.12


def test_alignment_mean_matches_expectation_and_lines_are_flat():
    sims, theories = [], []
    for seed in range(30):
        r = [x for x in rows("align", seed, n_aligns=[300]) if x["metric"] in ("test_loss", "theory_loss")]
        sims.append(r[0]["value"])
        theories.append(r[1]["value"])
    assert abs(np.mean(sims) / np.mean(theories) - 1) < 0.15
    src = [x["value"] for x in rows("source", 0) if x["metric"] == "test_loss"]
    assert len(src) == 2 and src[0] == src[1]      # one value per n_align: a horizontal line


def test_more_pairs_and_less_noise_help():
    def curve(sw2):
        return np.mean([[x["value"] for x in rows("align", s, sigma_w2=sw2) if x["metric"] == "test_loss"]
                        for s in range(8)], axis=0)
    weak, strong = curve(1.5), curve(0.5)
    assert weak[1] < weak[0] and strong[1] < weak[1]


@pytest.mark.parametrize("bad,msg", [({"method": "both"}, "method must be one of"),
                                     ({"method": "align", "n_aligns": [10, 100]}, "must exceed d \\+ 1")])
def test_bad_parameters_fail_with_one_line(bad, msg):
    with pytest.raises(ValueError, match=msg):
        list(tradeoff({**BASE, "sigma_w2": 0.5, **bad}, Ctx(0)))
