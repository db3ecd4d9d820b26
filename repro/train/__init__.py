"""The training layer: what every network experiment needs to train a model, written once.

Below repro/experiments/ (the science: models, losses, what a figure logs) and above repro/nn/, repro/optim/ and
repro/data/. An experiment builds its data, model and optimizer, then hands a loss function to `fit`:

    batches.py     shuffled_batches(n, batch_size, generator, device): one epoch's index batches in a random order;
                   endless_batches(...): epoch after epoch, for runs counted in updates
    loop.py        fit(optimizer, loss_fn, batches, ...): the one training loop, with hooks for what figures log
                   (per step, per epoch), a learning-rate schedule, gradient clipping / norm, divergence, the run's
                   precision (autocast, GradScaler for fp16); train_step(...) is one step of it; RunningMean;
                   steps_for(...): epochs and steps of a run given in epochs or steps
    evaluate.py    evaluate_classifier(model, x, y): mean cross-entropy and accuracy in batches
    augment.py     random_crop_flip(x, generator): the CIFAR crop (zero padding) + horizontal flip of a batch
    checkpoint.py  checkpoint_path(ctx, name, identity), save_checkpoint / load_checkpoint, Resume (fit's
                   checkpoints: a rerun resumes with the same rows): through the context's checkpoint_dir
    stacked.py     StackedModels (K models as one, torch.func), StackedSGD / StackedAdam (per-model
                   hyperparameters as tensors, each model's step as torch.optim's), stacked_cross_entropy
    losses.py      mean_squared_error

Random streams come from the context (`ctx.generator(name)` on ctx.device, `ctx.cpu_generator(name)` on the CPU),
so a figure's series keep drawing the same data order, initialisation and augmentation.
"""
from repro.train.augment import random_crop_flip
from repro.train.batches import endless_batches, shuffled_batches
from repro.train.checkpoint import Resume, checkpoint_path, load_checkpoint, save_checkpoint
from repro.train.evaluate import evaluate_classifier
from repro.train.loop import FitState, RunningMean, fit, steps_for, train_step

__all__ = ["FitState", "Resume", "RunningMean", "checkpoint_path", "endless_batches", "evaluate_classifier", "fit",
           "load_checkpoint", "random_crop_flip", "save_checkpoint", "shuffled_batches", "steps_for", "train_step"]
