"""The training loop: Adam, cross-entropy, latent-weight clipping, a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .layers import BNNModule

__all__ = ["TrainConfig", "train", "evaluate"]


@dataclass
class TrainConfig:
    sizes: list[int]
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-2
    seed: int = 0
    ternary: bool = False
    activations: str = "binary"  # or "ternary" (GXNOR)
    bits: int = 1  # hidden activation bits (2..4: signed integer levels)


def evaluate(module: BNNModule, x: np.ndarray, y: np.ndarray) -> float:
    """Return the accuracy of the module's exact (eval-mode) predictions."""
    module.eval()
    pred = module.predict(torch.as_tensor(x))
    return float((pred.numpy() == np.asarray(y)).mean())


def train(
    cfg: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    on_epoch: Callable[[int, float, float | None, float], None] | None = None,
    progress: bool = True,
) -> BNNModule:
    """Train a BNN; deterministic for a fixed seed on CPU. Calls ``on_epoch(epoch, loss,
    test accuracy or None, seconds)`` after each epoch."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(cfg.seed)
    module = BNNModule(cfg.sizes, ternary=cfg.ternary, activations=cfg.activations, bits=cfg.bits)
    opt = torch.optim.Adam(module.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    xt = torch.as_tensor(np.array(x_train, dtype=np.float32))
    yt = torch.as_tensor(np.array(y_train, dtype=np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        module.train()
        order = torch.randperm(len(xt), generator=gen)
        total = 0.0
        batches = range(0, len(xt), cfg.batch_size)
        bar = tqdm(
            batches,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            leave=False,
            disable=None if progress else True,
        )
        for start in bar:
            idx = order[start : start + cfg.batch_size]
            if len(idx) < 2:  # batch norm needs two samples
                continue
            opt.zero_grad()
            loss = loss_fn(module(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            module.clip_()
            total += float(loss.detach()) * len(idx)
        sched.step()
        acc = None if x_test is None else evaluate(module, x_test, y_test)
        if on_epoch:
            on_epoch(epoch + 1, total / len(xt), acc, time.perf_counter() - t0)
    module.eval()
    return module
