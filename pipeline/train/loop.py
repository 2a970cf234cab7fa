"""Training one stream: SGD (Nesterov), warm-up + step decay, a checkpoint every epoch,
resume from the last one, per-epoch metrics, val/test scores at the end. The validation
split is optional (the paper's SLR-500 protocol has none): without it the val columns of
the log are empty, metrics.json has "val": null and scores.npz holds test arrays only.

Determinism: the model is initialised from ``seed`` and every epoch draws its data
order, crops and dropout from generators seeded by (seed, epoch), so a run resumed
after a kill reproduces an uninterrupted one exactly (given the same device/threads).
"""
from __future__ import annotations

import csv
import ctypes
import hashlib
import io
import json
import logging
import pickle
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..guards import NonFiniteError, require_finite
from ..io import atomic_path, write_json
from ..metrics import accuracy_report
from ..model.ctrgcn import CTRGCN, count_parameters, use_fused_graph_conv
from ..model.graph import spatial_adjacency
from ..model.heads import TextAlignmentHeads
from ..text.bank import TextBank
from .accel import Timed, autocast, configure_backends, grad_scaler, resolve_fused_graph_conv, resolve_precision
from .feeder import Feeder
from .mc import mc_losses, total_loss
from .precision_probe import cpu_auto_precision
from .schedule import learning_rate

log = logging.getLogger(__name__)

# seconds: the epoch's wall time; data_seconds of it the training loop waited for batches
# (crop-resize and stream derivation, train.prefetch batches ahead in a background thread),
# compute_seconds the training steps themselves (the rest: validation, logging)
LOG_FIELDS = ["epoch", "lr", "train_loss", "train_mc_loss", "train_top1", "val_loss", "val_top1", "val_top5",
              "seconds", "data_seconds", "compute_seconds"]
TIMING_FIELDS = ("seconds", "data_seconds", "compute_seconds")    # what a rerun may change


@dataclass
class MCSetup:
    """What the MC objective needs: the text bank, which terms, temperature, lambda,
    each part's joint positions in the keypoint preset, and whether to centre the bank."""
    bank: TextBank
    terms: list[str]
    temperature: float
    weight: float
    part_joints: dict[str, list[int]]
    centre_text: bool = False
    coverage: dict | None = None      # mc.text_coverage: what metrics.json records of the texts


@dataclass
class TrainOutputs:
    model: Path
    metrics: Path
    log: Path
    scores: Path
    checkpoint: Path

    @staticmethod
    def in_dir(out_dir: str | Path) -> "TrainOutputs":
        d = Path(out_dir)
        return TrainOutputs(d / "model.pt", d / "metrics.json", d / "log.csv", d / "scores.npz",
                            d / "checkpoint.pt")


def keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks instead of returning every large one to the OS:
    CTR-GCN allocates tensors of hundreds of MB each step, and re-faulting their pages
    costs ~15% of CPU training time. No-op where glibc's mallopt is absent."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)   # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


def build_model(model_cfg: dict, num_class: int, edges: list[tuple[int, int]], num_points: int,
                in_channels: int = 3) -> CTRGCN:
    return CTRGCN(num_class, spatial_adjacency(edges, num_points), in_channels=in_channels,
                  base_channels=model_cfg["base_channels"], num_units=model_cfg["num_units"],
                  stride_units=model_cfg["stride_units"], temporal_kernel=model_cfg["temporal_kernel"],
                  dilations=model_cfg["dilations"], dropout=model_cfg["dropout"])


OPTIMIZERS = ("sgd", "adamw")


def build_optimizer(params: list, cfg: dict) -> torch.optim.Optimizer:
    """``train.optimizer``: ``sgd`` is the CTR-GCN family's (momentum, Nesterov, L2 weight
    decay), what the paper's recipes use. ``adamw`` (decoupled weight decay; momentum and
    nesterov unused) is the demo's: on its small encoder and few hundred steps it fits the
    training clips within the time budget where SGD does not (docs/training.md, `train`)."""
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], nesterov=cfg["nesterov"],
                               weight_decay=cfg["weight_decay"])
    if cfg["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    raise ValueError(f"unknown train.optimizer {cfg['optimizer']!r}; known: {', '.join(OPTIMIZERS)}")


def fingerprint(*parts) -> str:
    """Identity of a run's inputs: a checkpoint is resumed only when this matches."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
                if f.is_file():
                    h.update(f.name.encode())
                    h.update(f.read_bytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()


def predict_logits(model: nn.Module, feeder: Feeder, batch_size: int, device: torch.device,
                   precision: str = "fp32") -> np.ndarray:
    """Logits (N, classes) in feeder order, eval mode, the feeder's centred test crop: what
    training scores val and test with, and what `predict`/`evaluate` score new clips with."""
    model.eval()
    outs = []
    with torch.no_grad(), autocast(precision, device):
        for _, x, _ in feeder.batches(batch_size, None):
            outs.append(model(torch.from_numpy(x).to(device)).float().cpu().numpy())
    scores = np.concatenate(outs)
    require_finite(scores, f"scores of the {len(feeder)} evaluated clips")
    return scores


def evaluate(model: nn.Module, feeder: Feeder, batch_size: int, device: torch.device,
             precision: str = "fp32") -> tuple[np.ndarray, float]:
    """Logits (N, classes) in feeder order and the mean CE loss."""
    scores = predict_logits(model, feeder, batch_size, device, precision)
    loss = nn.functional.cross_entropy(torch.from_numpy(scores).double(), torch.as_tensor(np.array(feeder.labels)))
    return scores, float(loss)


def validation_columns(model: nn.Module, val: Feeder | None, batch_size: int, device: torch.device,
                       precision: str = "fp32") -> dict:
    """An epoch's val_loss, val_top1, val_top5; None each without a validation split (the
    csv log leaves them empty)."""
    if val is None:
        return {"val_loss": None, "val_top1": None, "val_top5": None}
    scores, loss = evaluate(model, val, batch_size, device, precision)
    acc = accuracy_report(scores, val.labels)
    return {"val_loss": loss, "val_top1": acc["top1"], "val_top5": acc["top5"]}


def save_torch(path: Path, obj: dict) -> None:
    """torch.save through a buffer: saved to a file, the archive records that file's name
    (here a random temporary one), so identical runs would give different bytes."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


class WeightsFileError(ValueError):
    """A model file that cannot be loaded weights-only, named in one line."""


def load_weights(path: str | Path) -> dict:
    """A model.pt, loaded weights-only. Refused: a file that would run code when unpickled, said
    in a line that names it (torch's own message suggests weights_only=False, which would run it)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsFileError(f"{path}: refused: it holds objects other than tensors and plain data, which "
                               f"loading would run as code; this pipeline never writes such a file, so do not "
                               f"load it another way") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise WeightsFileError(f"{path}: not a readable model file ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0]})") from exc


def load_trained(path: str | Path, edges: list[tuple[int, int]], device: torch.device
                 ) -> tuple[CTRGCN, TextAlignmentHeads | None]:
    """A model.pt's encoder + classifier and, when it kept them (``keep_heads``), its text
    heads; both in eval mode on ``device``. ``edges``: the keypoint preset's bone tree."""
    state = load_weights(path)
    model = build_model(state["model_cfg"], state["num_class"], edges, state["num_points"])
    model.load_state_dict(state["model"])
    heads = None
    if "heads" in state:
        heads = TextAlignmentHeads(**state["heads_cfg"])
        heads.load_state_dict(state["heads"])
        heads = heads.to(device).eval()
    return model.to(device).eval(), heads


def _layout(state_dict: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state_dict.items()}


def _load_checkpoint(path: Path, fp: str) -> dict | None:
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt checkpoint is not worth dying for: start over
        log.warning("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    if state.get("fingerprint") != fp:
        log.info("checkpoint %s belongs to other inputs or params; starting fresh", path)
        return None
    return state


def _write_log(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


@dataclass
class TrainJob:
    """Everything one training run reads, so the pieces below take one argument, not eleven.
    ``val`` None: no validation split. ``fingerprint``: the inputs' identity a checkpoint must
    carry to be resumed. ``mc`` with terms: the MC objective joins CE (text heads are built).
    ``keep_heads``: model.pt also holds the text heads, for zero-shot scoring."""
    train: Feeder
    val: Feeder | None
    test: Feeder
    num_class: int
    edges: list[tuple[int, int]]
    model_cfg: dict
    cfg: dict
    seed: int
    out_dir: str | Path
    fingerprint: str
    mc: MCSetup | None = None
    keep_heads: bool = False

    @property
    def outputs(self) -> TrainOutputs:
        return TrainOutputs.in_dir(self.out_dir)

    @property
    def num_points(self) -> int:
        return self.train.clips[0].shape[1]


@dataclass
class Trainer:
    """The live training state: what an epoch updates and a checkpoint saves. ``heads`` and
    ``text_bank`` (the text embeddings as tensors on ``device``) are None when no MC term is trained."""
    device: torch.device
    model: CTRGCN
    heads: TextAlignmentHeads | None
    text_bank: dict[str, torch.Tensor] | None
    optimizer: torch.optim.Optimizer
    precision: str = "fp32"                     # resolved train.precision (accel.py)
    scaler: torch.amp.GradScaler | None = None  # fp16 only
    encode: Callable | None = None              # model.features, compiled with train.compile

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return (self.encode or self.model.features)(x)


def setup(job: TrainJob) -> Trainer:
    """Refuse a batch size no epoch could take a step with, then build the model and heads
    from ``job.seed``: the model is built first, so its initial weights do not depend on
    whether MC terms (and so heads) are trained."""
    cfg = job.cfg
    if len(job.train) < cfg["batch_size"]:
        # drop_last would leave no step at all; one short batch instead is not the recipe asked for
        raise ValueError(f"train.batch_size {cfg['batch_size']} is larger than the training split "
                         f"({len(job.train)} clips): lower train.batch_size")
    job.outputs.model.parent.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg["device"])
    fused = resolve_fused_graph_conv(cfg["fused_graph_conv"], device)
    configure_backends(cfg["deterministic"], device)
    keep_freed_memory()
    torch.set_num_threads(cfg["threads"])

    def encoder() -> CTRGCN:
        return build_model(job.model_cfg, job.num_class, job.edges, job.num_points)

    probe = partial(cpu_auto_precision, encoder, job.model_cfg, job.num_points, job.train.window,
                    cfg["batch_size"], cfg["threads"])
    precision = resolve_precision(cfg["precision"], device, probe)
    torch.manual_seed(job.seed)
    model = encoder().to(device)
    use_fused_graph_conv(model, fused)
    log.info("%s: training on %s, precision %s, CTR-GC aggregation %s", job.out_dir, device, precision,
             "fused (Triton)" if fused else "eager")
    heads, text_bank = None, None
    mc = job.mc
    if mc is not None and mc.terms:
        heads = TextAlignmentHeads(model.out_channels, mc.bank.dim, mc.part_joints).to(device)
        text_bank = (mc.bank.centred() if mc.centre_text else mc.bank).to_torch(device)
    trainable = list(model.parameters()) + (list(heads.parameters()) if heads is not None else [])
    # compiled: the forward of the encoder (the state dicts stay the plain module's)
    encode = torch.compile(model.features) if cfg["compile"] else None
    return Trainer(device, model, heads, text_bank, build_optimizer(trainable, cfg), precision,
                   grad_scaler(precision, device), encode)


def resume(trainer: Trainer, job: TrainJob) -> tuple[int, list[dict]]:
    """The first epoch still to run and the log rows of those done: a killed or retried job
    continues from its last checkpoint, when that checkpoint was made from the same inputs
    and params; otherwise (0, []) and ``trainer`` is left as built."""
    state = _load_checkpoint(job.outputs.checkpoint, job.fingerprint)
    if state is None:
        return 0, []
    if _layout(state["model"]) != _layout(trainer.model.state_dict()):
        # same params and inputs, other code: the model's modules changed since it was written
        log.warning("checkpoint %s holds a model of another layout (an older version's?); starting fresh",
                    job.outputs.checkpoint)
        return 0, []
    trainer.model.load_state_dict(state["model"])
    if trainer.heads is not None:
        trainer.heads.load_state_dict(state["heads"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scaler is not None and "scaler" in state:
        trainer.scaler.load_state_dict(state["scaler"])
    start_epoch = int(state["epoch"]) + 1
    log.info("resuming %s from epoch %d", job.out_dir, start_epoch)
    return start_epoch, state["log"]


def batch_loss(trainer: Trainer, mc: MCSetup | None, xb: torch.Tensor, yb: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, float | None]:
    """One batch's training loss (CE, plus lambda times the MC terms when heads are trained),
    the logits (for the running accuracy) and the MC terms' mean for the log (None when no
    term applied to this batch)."""
    with autocast(trainer.precision, trainer.device):
        features = trainer.features(xb)
        logits = trainer.model.classify(features)
        if trainer.heads is not None:
            glob, parts = trainer.heads(features)
    # the losses in fp32 (log-softmax over classes and over the text bank)
    logits = logits.float()
    loss = nn.functional.cross_entropy(logits, yb)
    mc_mean = None
    if trainer.heads is not None:
        terms = mc_losses(glob.float(), {k: v.float() for k, v in parts.items()}, yb, trainer.text_bank,
                          mc.terms, mc.temperature)
        if terms:
            mc_mean = float(torch.stack(list(terms.values())).mean().detach())
        loss = total_loss(loss, terms, mc.weight)
    return loss, logits, mc_mean


def tensor_batches(batches, device: torch.device):
    """(x, y) tensors of a feeder's batches; in pinned memory for a CUDA device, so that
    the copy to it runs asynchronously (done in the prefetch thread, off the step)."""
    for _, x, y in batches:
        xb, yb = torch.from_numpy(x), torch.from_numpy(y)
        if device.type == "cuda":
            xb, yb = xb.pin_memory(), yb.pin_memory()
        yield xb, yb


def optimizer_step(trainer: Trainer, loss: torch.Tensor) -> None:
    trainer.optimizer.zero_grad(set_to_none=True)
    if trainer.scaler is None:
        loss.backward()
        trainer.optimizer.step()
        return
    trainer.scaler.scale(loss).backward()
    trainer.scaler.step(trainer.optimizer)
    trainer.scaler.update()


def _non_finite(job: TrainJob, loss: torch.Tensor, epoch: int, step: int) -> NonFiniteError:
    return NonFiniteError(f"{job.out_dir}: loss {float(loss.detach())} at epoch {epoch + 1} step {step + 1}; "
                          f"stopped, nothing written ("
                          + (f"the checkpoint of epoch {epoch} is kept)" if epoch else "no checkpoint yet)"))


def run_epoch(trainer: Trainer, job: TrainJob, epoch: int) -> dict:
    """One epoch (0-based ``epoch``) of training then validation; returns its log row. The
    data order, crops and dropout are seeded by (seed, epoch), so an epoch run after a resume
    is the epoch an uninterrupted run would have had. A non-finite loss raises before its
    step, leaving the weights and the last checkpoint as they were."""
    cfg = job.cfg
    started = time.time()
    lr = learning_rate(epoch, cfg["lr"], cfg["warmup_epochs"], cfg["lr_steps"], cfg["lr_decay"])
    for group in trainer.optimizer.param_groups:
        group["lr"] = lr
    rng = np.random.default_rng([job.seed, epoch])
    torch.manual_seed(job.seed * 100003 + epoch)
    trainer.model.train()
    if trainer.heads is not None:
        trainer.heads.train()
    loss_sum, mc_sum, correct, seen = 0.0, 0.0, 0, 0
    bar = tqdm(total=len(job.train) // cfg["batch_size"] or 1, desc=f"epoch {epoch + 1}/{cfg['epochs']}",
               leave=False, disable=None)
    batches = Timed(tensor_batches(job.train.batches(cfg["batch_size"], rng, drop_last=True), trainer.device),
                    cfg["prefetch"])
    loop_started = time.perf_counter()
    try:
        for step, (x, y) in enumerate(batches):
            xb, yb = x.to(trainer.device, non_blocking=True), y.to(trainer.device, non_blocking=True)
            loss, logits, mc_mean = batch_loss(trainer, job.mc, xb, yb)
            if mc_mean is not None:
                mc_sum += mc_mean * len(y)
            if not torch.isfinite(loss):
                # stop before the step: the checkpoint of the last finished epoch stays as it was
                raise _non_finite(job, loss, epoch, step)
            optimizer_step(trainer, loss)
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(y)
            bar.update(1)
    finally:
        batches.close()
        bar.close()
    loop_seconds = time.perf_counter() - loop_started
    return {"epoch": epoch + 1, "lr": lr, "train_loss": loss_sum / seen, "train_mc_loss": mc_sum / seen,
            "train_top1": correct / seen,
            **validation_columns(trainer.model, job.val, cfg["batch_size"], trainer.device, trainer.precision),
            "seconds": round(time.time() - started, 3), "data_seconds": round(batches.waited, 3),
            "compute_seconds": round(loop_seconds - batches.waited, 3)}


def save_checkpoint(trainer: Trainer, job: TrainJob, epoch: int, rows: list[dict]) -> None:
    """After every epoch, so that a killed job loses at most one epoch (``resume``)."""
    heads = trainer.heads
    save_torch(job.outputs.checkpoint, {"model": trainer.model.state_dict(),
                                        "optimizer": trainer.optimizer.state_dict(),
                                        "heads": heads.state_dict() if heads is not None else {},
                                        "epoch": epoch, "log": rows, "fingerprint": job.fingerprint,
                                        **({"scaler": trainer.scaler.state_dict()} if trainer.scaler else {})})


def final_evaluation(trainer: Trainer, job: TrainJob) -> tuple[dict, dict[str, np.ndarray]]:
    """metrics.json's content and scores.npz's arrays, from the last epoch's weights: val
    (None and no val arrays without a validation split), test, and train."""
    model, batch_size, device = trainer.model, job.cfg["batch_size"], trainer.device
    val, test, train = job.val, job.test, job.train
    scores = partial(evaluate, model, batch_size=batch_size, device=device, precision=trainer.precision)
    arrays = {}
    if val is not None:
        val_scores, _ = scores(val)
        arrays = {"val_ids": np.array(val.sample_ids), "val_labels": val.labels, "val_scores": val_scores}
    test_scores, _ = scores(test)
    arrays.update(test_ids=np.array(test.sample_ids), test_labels=test.labels, test_scores=test_scores)
    # what the final model does on the clips it was trained on (eval mode, centred crop, as
    # val and test): the log's train_top1 is a running figure under augmentation
    train_scores, _ = scores(train)
    metrics = {"train": accuracy_report(train_scores, train.labels),
               "val": accuracy_report(val_scores, val.labels) if val is not None else None,
               "test": accuracy_report(test_scores, test.labels),
               "epochs": job.cfg["epochs"], "parameters": count_parameters(model), "num_class": job.num_class,
               # the texts aligned with (encoder, per-term coverage); None: CE only, no text read
               "text": job.mc.coverage if job.mc is not None and job.mc.terms else None}
    return metrics, arrays


def write_outputs(trainer: Trainer, job: TrainJob, metrics: dict, arrays: dict[str, np.ndarray],
                  rows: list[dict]) -> None:
    """scores.npz, model.pt, log.csv, metrics.json, in that order: metrics.json last, as the
    sign a run finished. model.pt holds CPU tensors, so it loads without the training device."""
    outputs = job.outputs
    with atomic_path(outputs.scores) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    heads, kept = trainer.heads, {}
    if job.keep_heads and heads is not None:
        kept = {"heads": {k: v.cpu() for k, v in heads.state_dict().items()}, "heads_cfg": heads.config}
    save_torch(outputs.model, {"model": {k: v.cpu() for k, v in trainer.model.state_dict().items()},
                               "num_class": job.num_class, "num_points": job.num_points,
                               "model_cfg": job.model_cfg, **kept})
    _write_log(outputs.log, rows)
    write_json(outputs.metrics, metrics)


def run(job: TrainJob) -> dict:
    """Train, checkpointing every epoch into ``job.out_dir``; returns the metrics dict."""
    trainer = setup(job)
    start_epoch, rows = resume(trainer, job)
    epochs = job.cfg["epochs"]
    for epoch in range(start_epoch, epochs):
        row = run_epoch(trainer, job, epoch)
        rows.append(row)
        val_top1 = "none" if row["val_top1"] is None else f"{row['val_top1']:.3f}"
        log.info("epoch %d/%d lr %.4g loss %.4f train %.3f val %s (%.1fs)", epoch + 1, epochs, row["lr"],
                 row["train_loss"], row["train_top1"], val_top1, row["seconds"])
        save_checkpoint(trainer, job, epoch, rows)
    metrics, arrays = final_evaluation(trainer, job)
    write_outputs(trainer, job, metrics, arrays, rows)
    return metrics


def train_stream(train: Feeder, val: Feeder | None, test: Feeder, num_class: int, edges: list[tuple[int, int]],
                 model_cfg: dict, cfg: dict, seed: int, out_dir: str | Path, fp: str,
                 mc: MCSetup | None = None, keep_heads: bool = False) -> dict:
    """``run`` with its job spelled out, for the callers that predate ``TrainJob``. With
    ``mc`` the MC terms join the CE loss; the text heads live only in training, unless
    ``keep_heads``: then model.pt also holds them (``heads``, ``heads_cfg``), for zero-shot
    scoring (``load_trained``). ``val`` None: no validation split (nothing is validated,
    nothing val is written)."""
    return run(TrainJob(train, val, test, num_class, edges, model_cfg, cfg, seed, out_dir, fp, mc, keep_heads))
