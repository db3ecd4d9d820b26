"""LaProp Table 1 (laprop.cifar10) resumes after a kill: the rerun continues from the last epoch's checkpoint under
ctx.checkpoint_dir and yields exactly the rows of an uninterrupted run."""
import torch

from repro.experiments.laprop.networks import cifar10
from repro.runner.context import RunContext

P = dict(dataset="synthetic", depth=8, n_train=64, n_test=32, image_size=16, epochs=4, schedule=[3], gamma=0.1,
         batch_size=16, lr=1e-3, weight_decay=1e-4, weight_decay_mode="decoupled_no_lr", mu=0.9, nu=0.999,
         optimizer="laprop", eps=1e-15, fused=False)


def test_a_killed_cifar10_run_resumes_with_the_rows_of_an_uninterrupted_one(tmp_path):
    straight = list(cifar10(dict(P), RunContext(seed=0, checkpoint_dir=tmp_path / "a")))
    ctx = RunContext(seed=0, checkpoint_dir=tmp_path / "b")
    run = cifar10(dict(P), ctx)
    for row in run:   # killed during epoch 3, after the checkpoint of epoch 2
        if row.get("step") == 3:
            break
    run.close()
    [ck] = (tmp_path / "b").glob("laprop.cifar10-*.pt")
    saved = torch.load(ck, weights_only=False)
    assert saved["state"].epoch == 2
    saved["rows"][0] = {**saved["rows"][0], "value": -1.0}   # a marker: the resumed run replays the saved rows
    torch.save(saved, ck)
    resumed = list(cifar10(dict(P), ctx))
    assert resumed[0]["value"] == -1.0 and resumed[1:] == straight[1:]
    assert not list((tmp_path / "b").glob("*.pt"))   # a finished run removes its checkpoint
    assert [r["step"] for r in straight if r["metric"] == "lr"] == [1, 2, 3, 4]
