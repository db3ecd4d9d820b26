"""adam_variance on networks (figs 2, 3, 4, S1-S9): the eight CIFAR CNNs build at their published sizes, the recorded
update statistics equal a computation by hand from the gradients, every CNN and transformer entry's full config runs a
few steps at full model size through the real loaders (on generated files in the real formats), and a missing data
set stops with one line."""
import math

import numpy as np
import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.data.iwslt import write_fixture as write_iwslt
from repro.experiments import registry
from repro.experiments.adam_variance_nets import pick_layer, record_updates, update_stats
from repro.nn import cifar_cnns
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand
from repro.theory import adaptive as theory

# kuangliu/pytorch-cifar's parameter counts where our definition is the same network; DenseNet-121 keeps
# torchvision's stem BatchNorm (+128) and EfficientNet-B0 torchvision's 1280-channel head (cifar_cnns.py header).
PARAMS = {"resnet18": 11_173_962, "vgg19": 20_040_522, "shufflenetv2": 1_263_854, "mobilenet": 3_217_226,
          "resnext29_2x64d": 9_128_778, "regnetx_200mf": 2_321_946, "densenet121": 6_956_298 + 128,
          "efficientnet_b0": 4_020_358, "mlp": 3072 * 64 + 64 + 64 * 10 + 10,
          "cnn2": (3 * 9 + 1) * 8 + (8 * 9 + 1) * 8 + 512 * 10 + 10}


@pytest.mark.parametrize("name", list(cifar_cnns.MODELS))
def test_network_builds_with_its_parameter_count_and_maps_32x32_to_10_logits(name):
    net = cifar_cnns.build(name, seed=0)
    assert sum(p.numel() for p in net.parameters()) == PARAMS[name]
    net.eval()
    with torch.no_grad():
        y = net(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_build_is_seeded_and_leaves_the_global_generator_alone():
    state = torch.get_rng_state()
    a, b, c = (cifar_cnns.build("regnetx_200mf", seed=s) for s in (1, 1, 2))
    assert torch.equal(torch.get_rng_state(), state)
    wa, wb, wc = (pick_layer(n, 0)[1] for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_pick_layer_by_index_and_by_name():
    net = cifar_cnns.build("regnetx_200mf", seed=0)
    name, w = pick_layer(net, 0)
    assert (name, w.numel()) == ("blocks.2.body.3.weight", 10_944)   # the first conv/linear weight > 1e4 entries
    assert pick_layer(net, 20)[0] == "blocks.8.body.6.weight"
    assert pick_layer(net, "linear.weight")[1].shape == (10, 368)
    with pytest.raises(ValueError):
        pick_layer(net, 99)


def test_recorded_update_statistics_equal_a_computation_by_hand_from_the_gradients():
    """A 40x30 linear layer trained on a fixed regression; the update is recomputed from the gradient history as
    g_m / (sqrt(n_m / (1 - beta2^m)) + eps), n_m = beta2 n_{m-1} + (1 - beta2) g_m^2, in float64."""
    torch.manual_seed(0)
    model = torch.nn.Linear(30, 40)
    x, y = torch.randn(64, 30), torch.randn(64, 40)
    beta2, eps, lr = 0.9, 1e-8, 1e-2
    p = {"lr": lr, "beta2": beta2, "eps": eps, "steps": 6, "hist_ms": [3]}
    grads = []

    def loss_fn(m):
        return ((model(x) - y) ** 2).mean() * (1 + m)   # a gradient scale that changes with m

    def record_grad(g):
        grads.append(g.detach().double().clone())

    model.weight.register_hook(record_grad)
    rows = list(record_updates(p, RunContext(seed=0), model, "weight", model.weight, loss_fn, {"model": "linear"}))
    got = {(r["m"], r["metric"]): r["value"] for r in rows if "u" not in r}
    n = torch.zeros_like(grads[0])
    for m, g in enumerate(grads, start=1):
        n = beta2 * n + (1 - beta2) * g**2
        u = (g / ((n / (1 - beta2**m)).sqrt() + eps)).numpy().ravel()
        assert got[(m, "var")] == pytest.approx(u.var(), abs=1e-5)
        assert got[(m, "var_abs")] == pytest.approx(np.abs(u).var(), abs=1e-5)
        assert got[(m, "second_moment")] == pytest.approx(np.mean(u**2), abs=1e-5)
        assert got[(m, "mean")] == pytest.approx(u.mean(), abs=1e-5)
        bound = math.sqrt((1 - beta2**m) / (1 - beta2))
        assert got[(m, "bound_excess")] == pytest.approx(np.abs(u).max() - bound, abs=1e-5)
        assert got[(m, "bound_excess")] <= 1e-5
    assert got[(1, "var_abs")] < 1e-9 and got[(1, "eps_dev")] < 1e-4    # m = 1: every update is g/(|g| + eps)
    assert abs(got[(1, "var_abs")] - got[(1, "var_abs_eps")]) < 1e-9
    assert got[(2, "var_abs")] > 0.01                                  # m >= 2: it is not
    dens = sorted((r["u"], r["value"]) for r in rows if r["metric"] == "density")
    width = dens[1][0] - dens[0][0]
    assert sum(v for _, v in dens) * width == pytest.approx(1.0, abs=1e-9)   # all of u_3 lies in +-3.5 (bound 1.6)


def test_update_stats_m1_tolerance_and_ks_against_theorem_1():
    rng = np.random.default_rng(0)
    g = rng.normal(size=20_000)
    g[:10] = 0.0
    eps = 1e-8
    u = g / (np.abs(g) + eps)
    g[10:20] = 1e-7 * np.sign(g[10:20])   # eps shrinks these updates to ~0.91: not +-1, but exactly g/(|g| + eps)
    u = g / (np.abs(g) + eps)
    s = update_stats(u, g, 1, 0.999, eps)
    assert s["frac_nonzero"] == pytest.approx(1 - 10 / 20_000)
    assert s["eps_dev"] < 1e-12 and s["var_abs"] > 0   # the zero and small-gradient updates make |u| vary
    assert s["var_abs_eps"] == pytest.approx(s["var_abs"], abs=1e-12)
    assert s["frac_unit"] == pytest.approx(1 - 10 / 19_990, abs=5e-4)   # the shrunk ones are not +-1
    assert s["second_moment"] == pytest.approx(s["frac_nonzero"], abs=1e-3)   # E[u^2], not Var, is the nonzero share
    # an update that is not g/(|g| + eps) (here +-1 where eps should have shrunk it) is caught
    assert update_stats(np.sign(g), g, 1, 0.999, eps)["eps_dev"] > 0.05
    # at m = 5, draws from Theorem 1's law have KS ~ 1/sqrt(n); a Gaussian of the same variance does not
    z = rng.normal(size=(5, 20_000))
    u5 = z[-1] / np.sqrt((z**2).mean(0))
    assert update_stats(u5, z[-1], 5, 0.999999, 0.0)["ks"] < 0.015
    assert update_stats(rng.normal(size=20_000), z[-1], 5, 0.999999, 0.0)["ks"] > 0.02
    assert theory.var_abs(5) == pytest.approx(0.29687, abs=1e-5)


# ------------------------------------------------------------------------------------- full-size smoke (generated files)
CNN_FIGS = ["2", "3", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"]
TRANSFORMER_FIGS = ["3", "4"]


def full_runs(fig: str, experiment: str):
    """One full-scale RunSpec per experiment series of the given experiment (the first seed)."""
    [entry] = [e for e in index()["adam_variance"] if e.fig == fig]
    spec = load_spec(entry, ["scale=full"])
    runs = {}
    for run in expand(spec):
        if run.kind == "experiment" and run.experiment == experiment:
            runs.setdefault(run.series, run)
    return list(runs.values())


@pytest.mark.slow
@pytest.mark.parametrize("fig", CNN_FIGS)
def test_cnn_entry_runs_two_full_size_steps_through_the_real_cifar10_loader(fig, tmp_path, full_size_run):
    fixtures.write_cifar10(tmp_path, per_batch=40, n_test=10)
    runs = full_runs(fig, "adam_variance.cnn_updates")
    assert runs and {r.data for r in runs} == {"real"}
    for run in runs:
        assert run.params["dataset"] == "cifar10" and run.params["batch_size"] == 128
        assert run.params["model"] in cifar_cnns.MODELS and run.params["model"] not in ("mlp", "cnn2")
        rows = full_size_run(f"adam_variance fig{fig} {run.series}", registry.get(run.experiment),
                             {**run.params, "max_steps": 2}, run.seed, tmp_path)
        assert rows and all(r["data"] == "real" and r["model"] == run.params["model"] for r in rows)
        assert all(r["layer_size"] > 10_000 for r in rows)
        stats = {(r["m"], r["metric"]): r["value"] for r in rows if "u" not in r}
        assert set(m for m, _ in stats) == {1, 2}
        assert all(math.isfinite(v) for v in stats.values()), run.series
        # m = 1: the update is g/(|g| + eps) (Theorem 1's +-1 at eps = 0), so Var|update| is Var(|g|/(|g| + eps))
        assert stats[(1, "eps_dev")] <= 1e-4 and abs(stats[(1, "var_abs")] - stats[(1, "var_abs_eps")]) <= 1e-6
        assert stats[(2, "bound_excess")] <= 1e-5 and stats[(2, "var_abs")] > 0.01


@pytest.mark.slow
@pytest.mark.parametrize("fig", TRANSFORMER_FIGS)
def test_transformer_entry_runs_two_full_size_steps_through_the_real_iwslt_loader(fig, tmp_path, full_size_run):
    write_iwslt(tmp_path, n_train=200)
    [run] = full_runs(fig, "adam_variance.transformer_updates")
    assert run.data == "real" and run.params["d_model"] == 512 and run.params["layers"] == 6
    rows = full_size_run(f"adam_variance fig{fig} {run.series}", registry.get(run.experiment),
                         {**run.params, "max_steps": 2}, run.seed, tmp_path)
    stats = {(r["m"], r["metric"]): r["value"] for r in rows if "u" not in r}
    assert all(r["data"] == "real" and r["layer"] == "encoder.0.fc1.weight" for r in rows)
    assert rows[0]["layer_size"] == 512 * 1024
    assert all(math.isfinite(v) for v in stats.values())
    assert stats[(1, "eps_dev")] <= 1e-4 and abs(stats[(1, "var_abs")] - stats[(1, "var_abs_eps")]) <= 1e-6
    assert stats[(2, "bound_excess")] <= 1e-5


@pytest.mark.parametrize("fig,experiment", [(f, "adam_variance.cnn_updates") for f in CNN_FIGS]
                         + [(f, "adam_variance.transformer_updates") for f in TRANSFORMER_FIGS])
def test_full_scale_entry_without_its_data_stops_with_one_line(fig, experiment, tmp_path):
    run = full_runs(fig, experiment)[0]
    with pytest.raises(DataMissing) as e:
        list(registry.get(run.experiment)({**run.params, "max_steps": 1},
                                          RunContext(seed=run.seed, scale="full", data_dir=str(tmp_path))))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
