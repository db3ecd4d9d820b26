"""Episodic sampling for meta_alignment (repro/data/episodes.py) on the stand-ins: disjoint splits, exact k per
class, the same fixed evaluation tasks for every method and run seed, non-overlapping pools."""
import pytest
import torch

from repro.data.episodes import fixed_eval_tasks, make_pools, sample_alignment_batch, sample_task
from repro.data.meta_alignment.standins import load_standin, synth_strong


@pytest.fixture(scope="module")
def strong():
    return synth_strong(per_class=20)


def test_splits_are_disjoint(strong):
    c = strong.classes
    assert not set(c["meta_train"]) & set(c["meta_test"]) and not set(c["meta_val"]) & set(c["meta_test"])
    assert (len(c["meta_train"]), len(c["meta_val"]), len(c["meta_test"])) == (20, 5, 10)


def test_task_has_exact_k_and_queries_disjoint(strong):
    g = torch.Generator().manual_seed(3)
    t = sample_task(strong.y_t, None, strong.classes["meta_test"], 5, 3, 4, g)
    assert set(t.classes) <= set(strong.classes["meta_test"]) and len(set(t.classes)) == 5
    for i, c in enumerate(t.classes):
        assert (strong.y_t[t.support[t.support_y == i]] == c).all() and (t.support_y == i).sum() == 3
        assert (t.query_y == i).sum() == 4
    assert not set(t.support.tolist()) & set(t.query.tolist())
    one = t.with_shots(1)
    assert len(one.support) == 5 and torch.equal(one.query, t.query)


def test_fixed_eval_tasks_ignore_the_run_seed(strong):
    torch.manual_seed(0)
    a = fixed_eval_tasks(strong.y_t, strong.classes["meta_test"], 5, 5, 10, 4, eval_seed=0)
    torch.manual_seed(123)
    b = fixed_eval_tasks(strong.y_t, strong.classes["meta_test"], 5, 5, 10, 4, eval_seed=0)
    c = fixed_eval_tasks(strong.y_t, strong.classes["meta_test"], 5, 5, 10, 4, eval_seed=1)
    assert all(torch.equal(x.support, y.support) and torch.equal(x.query, y.query) for x, y in zip(a, b))
    assert not all(torch.equal(x.support, y.support) for x, y in zip(a, c))


def test_sampling_errors(strong):
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="at least"):
        sample_task(strong.y_t, None, strong.classes["meta_val"], 6, 1, 1, g)
    with pytest.raises(ValueError, match="items"):
        sample_task(strong.y_t, None, strong.classes["meta_test"], 5, 15, 10, g)


@pytest.mark.parametrize("name", ["synth_strong", "digits_weak"])
def test_pools_do_not_overlap_and_stay_in_meta_train(name):
    d = synth_strong(per_class=20) if name == "synth_strong" else load_standin(name, signals=500)
    p = make_pools(d, torch.Generator().manual_seed(0))
    train = set(d.classes["meta_train"])
    assert not set(p.align_s.tolist()) & set(p.source_clf.tolist())
    assert not set(p.align_t.tolist()) & set(p.target_clf.tolist())
    assert set(d.y_t[p.target_clf].tolist()) <= train and set(d.y_s[p.source_clf].tolist()) <= train
    s, t, ids, idt = sample_alignment_batch(p, d.strength, 3, 2, torch.Generator().manual_seed(1))
    assert len(s) == len(t) == 6
    if d.strength == "strong":
        assert torch.equal(d.pair_t[s], t)
    else:
        assert torch.equal(d.cluster_s[s], ids) and torch.equal(d.cluster_t[t], idt)
        assert len(set(ids.tolist())) == 3


def test_standins_shapes_and_data_column():
    d = load_standin("synth_lang", per_language=15)
    assert d.x_s.shape == (25 * 15, 12) and d.x_t.shape == (25 * 15, 24, 40) and d.data == "synthetic"
    with pytest.raises(ValueError, match="stand-in must be one of"):
        load_standin("cifar")
