"""A toy experiment for the runner's own tests (registered through REPRO_PLUGINS): SGD on a noisy quadratic."""
import os
import time

import torch

from repro.experiments.registry import experiment


@experiment("toy.noisy_quadratic")
def noisy_quadratic(p, ctx):
    if p.get("bad_data"):
        from repro.data.download import DataInvalid
        raise DataInvalid(f"{ctx.data_dir}/toy.idx: not an idx file (magic number 0x00000000, expected 0x00000803)")
    g = ctx.generator("noise")
    w = torch.zeros(p["chains"], dtype=torch.float64)
    for t in range(1, p["T"] + 1):
        w = w - p["lr"] * (w + torch.randn(w.shape, generator=g, dtype=torch.float64))
        if p.get("blow_up_at") and t >= p["blow_up_at"]:
            w = w * float("inf")
        yield {"step": t, "metric": "var", "value": w.var().item()}
        if p.get("delay_s"):
            time.sleep(p["delay_s"])
    if p.get("fail"):
        raise RuntimeError("asked to fail")
    yield {"metric": "cuda_visible_devices", "value": float(os.environ.get("CUDA_VISIBLE_DEVICES") or -1)}


@experiment("toy.theory")
def theory(p, ctx):
    lr = p["lr"]
    for t in range(1, p["T"] + 1):
        yield {"step": t, "metric": "var", "value": lr / (2 - lr) * (1 - (1 - lr) ** (2 * t))}


@experiment("toy.where_am_i")
def where_am_i(p, ctx):
    """Pinned to the CPU (the default): reports the device it was given."""
    yield {"metric": "on_cuda", "value": float(ctx.device.type == "cuda")}


@experiment("toy.where_am_i_any", device="any")
def where_am_i_any(p, ctx):
    yield {"metric": "on_cuda", "value": float(ctx.device.type == "cuda")}


@experiment("toy.checkpoint_dir")
def checkpoint_dir(p, ctx):
    """Reports where the runner told the run to keep its checkpoints."""
    yield {"metric": "has_checkpoint_dir", "value": float(ctx.checkpoint_dir is not None),
           "where": str(ctx.checkpoint_dir)}
