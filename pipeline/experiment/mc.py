"""`python -m pipeline experiment mc`: is GSP-MC better than CE alone, beyond the seed
spread? CE only and CE + the MC terms are trained in pairs: the same seed gives both arms
the same initial encoder, data order and crops (the MC heads are built after the encoder
and draw nothing the CE arm draws), so the per-seed difference isolates the MC terms.
Each pair trains the streams (all four by default) and ensembles them; the paired
differences of test top-1 get a Student-t interval. Validation top-1 is kept beside it,
so that a choice between MC variants can be made on validation, never on test.

Settings (params `experiments.mc.settings`): the dataset's recipe as is, and a low-data
one that keeps only the first few training signers, where a text prior should matter most;
``steps_matched`` gives it as many optimizer steps as the full set (epochs, warm-up and lr steps
scaled by all training clips / kept clips), so that it measures less data, not less training.

lambda and tau (params `experiments.mc.grid`): each cell of the grid trains the second arm on
the grid's seeds in the grid's setting; the cell with the best mean validation top-1 (the
ensemble's, or the mean of the streams trained) is the one compared, and only its test figures
are reported. Test never chooses anything.

Run it in parts: ``--settings demo`` first, more seeds later. A finished (setting, arm, seed)
goes into the ledger (params `experiments.mc.ledger`, experiment/ledger.py) with its figures; a
unit found there, made by the same code, data and params, is not trained again, on this machine
or, with the ledger committed, on the next one. Within a machine, unfinished runs resume.
Runs land in results/<ds>/experiments/runs/<setting>/<arm>-<digest of its MC params>/seed<k>/
<stream>/ and resume like any training run; arms with the same MC params share their runs
(the CE arm is trained once for every MC variant compared with it). The summary goes to
results/<ds>/experiments/<name>.{json,md}; it lists the CPUs its units ran on.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from ..evaluate.ensemble import ensemble, load_stream_scores
from ..io import write_json, write_text
from ..machine import cpu_model
from ..metrics import accuracy_report
from ..names import STREAMS
from ..train.stages import first_signers
from .ledger import Ledger, code_digest, data_digests, unit_key
from .stats import paired_interval

log = logging.getLogger(__name__)
MC_KEYS = ("descriptions", "temperature", "weight", "centre_text")


def _inputs(params: dict) -> dict[str, Path]:
    res = Path("results") / params["dataset"]
    paths = {"keypoints": res / "keypoints", "manifest": res / "manifest.parquet", "classes": res / "classes.csv",
             "text": res / "text" / f"{params['mc']['descriptions']}.safetensors"}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"experiment mc needs the DAG's outputs (snakemake --cores 2 all); missing: "
                                f"{', '.join(missing)}")
    return paths


def arm_mc(params: dict, terms: list[str]) -> dict:
    """What an arm trains with on the MC side: nothing but the terms when there are none."""
    return {"terms": list(terms), **({k: params["mc"][k] for k in MC_KEYS} if terms else {})}


def arm_dir(arm: str, mc: dict) -> str:
    digest = hashlib.sha256(json.dumps(mc, sort_keys=True).encode()).hexdigest()[:8]
    return f"{arm}-{digest}"


def arm_params(params: dict, terms: list[str], seed: int, threads: int, train: dict | None = None) -> dict:
    p = copy.deepcopy(params)
    p["seed"], p["mc"]["terms"] = seed, list(terms)
    p["train"] = {**(train or p["train"]), "threads": threads}
    return p


@cache
def steps_factor(manifest: Path, train_signers: int | None) -> float:
    """All training clips / the clips of the first ``train_signers`` training signers (read once
    per experiment, not once per unit)."""
    m = pd.read_parquet(manifest, columns=["split", "signer"])
    train = m[m["split"] == "train"]
    keep = first_signers(train["signer"].to_numpy(), train_signers)
    return len(train) / int(train["signer"].isin(keep).sum())


def setting_train(train: dict, scfg: dict, manifest: Path) -> dict:
    """The train section a setting's runs use: as is, or steps-matched (epochs, warm-up and
    the lr steps scaled by the clip ratio, rounded)."""
    if not scfg.get("steps_matched") or scfg["train_signers"] is None:
        return train
    f = steps_factor(manifest, scfg["train_signers"])
    return {**train, "epochs": round(train["epochs"] * f), "warmup_epochs": round(train["warmup_epochs"] * f),
            "lr_steps": [round(e * f) for e in train["lr_steps"]]}


def grid_cells(cfg: dict) -> list[dict]:
    g = cfg["grid"]
    return [{"weight": w, "temperature": t} for w, t in itertools.product(g["weight"], g["temperature"])]


def with_cell(params: dict, cell: dict) -> dict:
    p = copy.deepcopy(params)
    p["mc"].update(cell)
    return p


def _train_one(job: tuple) -> dict:
    from ..train.stages import run_train
    params, stream, paths, out, train_signers = job
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_train(params, stream, paths["keypoints"], paths["manifest"], paths["classes"], paths["text"], out,
                     train_signers=train_signers)


@dataclass(frozen=True)
class Unit:
    """One (setting, arm, seed): its streams trained with ``params`` into ``dirs``, then ensembled."""
    setting: str
    arm: str
    seed: int
    params: dict = field(hash=False, compare=False)
    dirs: dict = field(hash=False, compare=False)
    train_signers: int | None = None


def unit(params: dict, cfg: dict, root: Path, setting: str, arm: str, seed: int, streams: list[str], threads: int,
         manifest: Path) -> Unit:
    scfg = cfg["settings"][setting]
    terms = cfg["arms"][arm]
    p = arm_params(params, terms, seed, threads, setting_train(params["train"], scfg, manifest))
    folder = root / setting / arm_dir(arm, arm_mc(params, terms)) / f"seed{seed}"
    return Unit(setting, arm, seed, p, {s: folder / s for s in streams}, scfg["train_signers"])


def units(params: dict, cfg: dict, seeds: list[int], settings: list[str], streams: list[str], threads: int,
          root: Path, paths: dict) -> list[Unit]:
    """Every (setting, arm, seed), seeds outermost so that a run cut short has complete pairs
    for the first seeds."""
    return [unit(params, cfg, root, setting, arm, seed, streams, threads, paths["manifest"])
            for seed in seeds for setting in settings for arm in cfg["arms"]]


def result_params(u: Unit) -> dict:
    """The params a unit's result depends on (the ledger key): not where clips are kept or how
    many batches are prepared ahead (params.yaml: no result depends on them)."""
    p = u.params
    return {"model": p["model"], "train": {k: v for k, v in p["train"].items() if k not in ("clips", "prefetch")},
            "mc": arm_mc(p, p["mc"]["terms"]), "seed": p["seed"], "ensemble": p["ensemble"],
            "streams": sorted(u.dirs), "train_signers": u.train_signers}


class Runner:
    """Trains the units the ledger lacks and records them; answers every unit from the ledger."""

    def __init__(self, ledger: Ledger, paths: dict, jobs: int):
        self.ledger, self.paths, self.jobs = ledger, paths, jobs
        self.code, self.cpu = code_digest(), cpu_model()
        self.data = data_digests(paths)

    def key(self, u: Unit) -> str:
        # the CPU too: another one rounds float32 sums otherwise (AMX or not), so a unit is reused only on
        # the kind of machine that made it, and a seed's two arms always come from one kind
        return unit_key(self.code, self.data[bool(u.params["mc"]["terms"])], {**result_params(u), "cpu": self.cpu})

    def results(self, wanted: list[Unit]) -> list[dict]:
        """Each unit's record; the units the ledger lacks are trained first, and each is recorded
        as soon as its last stream finishes (a run cut short keeps every unit it completed)."""
        todo = list({self.key(u): u for u in wanted if self.ledger.get(self.key(u)) is None}.values())
        jobs = [(u.params, stream, self.paths, d, u.train_signers) for u in todo for stream, d in u.dirs.items()]
        owner = [u for u in todo for _ in u.dirs]
        log.info("%d of %d units in the ledger; training %d runs, %d at a time", len(wanted) - len(todo), len(wanted),
                 len(jobs), self.jobs)
        left = {self.key(u): len(u.dirs) for u in todo}
        with (ProcessPoolExecutor(self.jobs, mp_context=mp.get_context("spawn")) if self.jobs > 1
              else nullcontext()) as pool:
            done = pool.map(_train_one, jobs) if pool else map(_train_one, jobs)
            for u, _ in zip(owner, done):
                left[self.key(u)] -= 1
                if not left[self.key(u)]:
                    self.record(u)
        return [self.ledger.get(self.key(u)) for u in wanted]

    def record(self, u: Unit) -> None:
        mc = arm_mc(u.params, u.params["mc"]["terms"])
        self.ledger.add({"key": self.key(u), "setting": u.setting, "arm": u.arm, "seed": u.seed,
                         "arm_dir": arm_dir(u.arm, mc), "mc": mc, "epochs": u.params["train"]["epochs"],
                         "cpu": self.cpu, **_run_result(u.dirs, u.params)})


def _validation_score(result: dict) -> float:
    val = result["val"]
    return val["ensemble"] if "ensemble" in val else sum(val.values()) / len(val)


def grid_search(params: dict, cfg: dict, streams: list[str], threads: int, root: Path, paths: dict,
                runner: Runner) -> dict:
    """Train every grid cell on the grid's seeds and setting, choose on validation only."""
    g = cfg["grid"]
    cells = grid_cells(cfg)
    if len(cells) == 1:
        return {"cells": [], "chosen": cells[0], "criterion": "a single cell: nothing chosen"}
    if g["setting"] not in cfg["settings"]:
        raise ValueError(f"experiments.mc.grid.setting {g['setting']!r} is not one of experiments.mc.settings "
                         f"({', '.join(cfg['settings'])})")
    seeds = list(range(g["seeds"]))
    other = list(cfg["arms"])[1]
    wanted = {(c["weight"], c["temperature"]): [unit(with_cell(params, c), cfg, root, g["setting"], other, seed,
                                                     streams, threads, paths["manifest"]) for seed in seeds]
              for c in cells}
    runner.results([u for us in wanted.values() for u in us])
    rows = []
    for cell in cells:
        results = runner.results(wanted[(cell["weight"], cell["temperature"])])
        if any(not r["val"] for r in results):
            raise ValueError("experiments.mc.grid: choosing lambda and tau needs a validation split")
        rows.append({**cell, "val": {w: sum(r["val"][w] for r in results) / len(results) for w in results[0]["val"]},
                     "score": sum(_validation_score(r) for r in results) / len(results)})
    best = max(rows, key=lambda r: r["score"])
    return {"cells": rows, "chosen": {"weight": best["weight"], "temperature": best["temperature"]},
            "criterion": f"mean validation top-1 of the {'ensemble' if set(streams) == set(STREAMS) else 'streams'}"
                         f" over seeds {seeds}, setting {g['setting']}"}


def _run_result(dirs: dict[str, Path], params: dict) -> dict:
    """Test (and val) top-1 of each stream and, with all four streams, of their ensemble."""
    out = {"test": {}, "val": {}}
    for s, d in dirs.items():
        z = load_stream_scores(Path(d) / "scores.npz")
        out["test"][s] = accuracy_report(z["test_scores"], z["test_labels"])["top1"]
        if "val_scores" in z:
            out["val"][s] = accuracy_report(z["val_scores"], z["val_labels"])["top1"]
    if set(dirs) == set(STREAMS):
        ens = params["ensemble"]
        m = ensemble(dirs, ens["weights"], ens["tune_on_val"], ens["rule"])["ensemble"]
        out["test"]["ensemble"] = m["test"]["top1"]
        if m["val"] is not None:
            out["val"]["ensemble"] = m["val"]["top1"]
    return out


def summarise(params: dict, cfg: dict, seeds: list[int], settings: list[str], streams: list[str],
              results: dict[tuple[str, str, int], dict]) -> dict:
    ens = params["ensemble"]
    arms = list(cfg["arms"])
    out = {"dataset": params["dataset"], "seeds": seeds, "streams": streams, "settings": {},
           "arms": {arm: arm_mc(params, terms) for arm, terms in cfg["arms"].items()},
           "ensemble": {"rule": ens["rule"], "tune_on_val": ens["tune_on_val"]},
           "cpus": sorted({r["cpu"] for r in results.values()})}
    for setting in settings:
        per_seed = [{"seed": seed, **{arm: {k: results[setting, arm, seed][k] for k in ("test", "val")}
                                      for arm in arms}} for seed in seeds]
        base, other = arms
        measured = list(per_seed[0][base]["test"])
        stats = {}
        for split in ("test", "val"):
            if not all(per_seed[0][base][split].get(w) is not None for w in measured):
                continue
            stats[split] = {
                "mean": {arm: {w: sum(r[arm][split][w] for r in per_seed) / len(per_seed) for w in measured}
                         for arm in arms},
                "difference": {w: paired_interval([r[base][split][w] for r in per_seed],
                                                  [r[other][split][w] for r in per_seed]) for w in measured}}
        epochs = results[setting, base, seeds[0]]["epochs"]
        out["settings"][setting] = {"train_signers": cfg["settings"][setting]["train_signers"], "epochs": epochs,
                                    "per_seed": per_seed, **stats}
    return out


def report(summary: dict) -> str:
    base, other = list(summary["arms"])
    arms = "; ".join(f"`{a}`: CE + {', '.join(m['terms']) or 'nothing'}"
                     + (f" (tau {m['temperature']}, lambda {m['weight']}, texts `{m['descriptions']}`, "
                        f"centred {str(m['centre_text']).lower()})" if m["terms"] else "")
                     for a, m in summary["arms"].items())
    lines = [f"# {other} vs {base} on `{summary['dataset']}`: test top-1 (%), paired by seed", "",
             f"Arms: {arms}. Streams: {', '.join(summary['streams'])}"
             + (f"; ensemble: {summary['ensemble']['rule']} rule, weights "
                f"{'tuned on val' if summary['ensemble']['tune_on_val'] else 'from params'}"
                if len(summary["streams"]) == len(STREAMS) else "")
             + f". Seeds {summary['seeds']}: the same seed gives both arms the same initial encoder, data "
               f"order and crops.", ""]
    grid = summary.get("grid")
    if grid and grid["cells"]:
        names = list(grid["cells"][0]["val"])
        lines += [f"## lambda and tau, chosen on validation ({grid['criterion']})", "",
                  "| lambda | tau | " + " | ".join(f"val {w}" for w in names) + " | chosen |",
                  "|---|---|" + "---|" * (len(names) + 1)]
        for c in grid["cells"]:
            chosen = "yes" if {k: c[k] for k in ("weight", "temperature")} == grid["chosen"] else ""
            lines.append(f"| {c['weight']} | {c['temperature']} | "
                         + " | ".join(f"{100 * c['val'][w]:.2f}" for w in names) + f" | {chosen} |")
        lines += ["", "Test figures below are for the chosen cell only.", ""]
    for setting, s in summary["settings"].items():
        who = ("all training signers" if s["train_signers"] is None
               else f"the first {s['train_signers']} training signers")
        who += f", {s['epochs']} epochs"
        shown = [w for w in ("joint", "ensemble") if w in s["test"]["difference"]]
        lines += [f"## {setting} ({who})", "",
                  "| seed | " + " | ".join(f"{w} {base} | {w} {other} | {w} diff" for w in shown) + " |",
                  "|---|" + "---|---|---|" * len(shown)]
        for r in s["per_seed"]:
            cells = []
            for w in shown:
                a, b = r[base]["test"][w], r[other]["test"][w]
                cells += [f"{100 * a:.2f}", f"{100 * b:.2f}", f"{100 * (b - a):+.2f}"]
            lines.append(f"| {r['seed']} | " + " | ".join(cells) + " |")
        for split in ("test", "val"):
            if split not in s:
                continue
            lines += ["", f"{split}: | mean {base} | mean {other} | mean diff | sd of diff | 95 % t-interval | "
                          f"excludes 0 |", "|---|---|---|---|---|---|---|"]
            for w, d in s[split]["difference"].items():
                excludes = "yes" if d["low"] > 0 or d["high"] < 0 else "no"
                lines.append(f"| {w} | {100 * s[split]['mean'][base][w]:.2f} | {100 * s[split]['mean'][other][w]:.2f} "
                             f"| {100 * d['mean']:+.2f} | {100 * d['sd']:.2f} | [{100 * d['low']:+.2f}, "
                             f"{100 * d['high']:+.2f}] | {excludes} |")
        lines.append("")
    return "\n".join(lines)


def run_mc_experiment(params: dict, seeds: list[int], jobs: int, streams: list[str] | None = None,
                      name: str = "mc", settings: list[str] | None = None) -> Path:
    cfg = params["experiments"]["mc"]
    if len(cfg["arms"]) != 2:
        raise ValueError(f"experiments.mc.arms: two arms are compared, got {list(cfg['arms'])}")
    streams = list(streams or STREAMS)
    unknown = [s for s in streams if s not in STREAMS]
    if unknown:
        raise ValueError(f"unknown stream(s) {unknown}; known: {', '.join(STREAMS)}")
    settings = list(settings or cfg["settings"])
    unknown = [s for s in settings if s not in cfg["settings"]]
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; experiments.mc.settings has {', '.join(cfg['settings'])}")
    paths = _inputs(params)
    out = Path("results") / params["dataset"] / "experiments"
    root = out / "runs"
    threads = params["train"]["threads"] if jobs == 1 else max(1, params["train"]["threads"] // jobs)
    runner = Runner(Ledger(Path(cfg["ledger"].format(dataset=params["dataset"]))), paths, jobs)
    grid = grid_search(params, cfg, streams, threads, root, paths, runner)
    params = with_cell(params, grid["chosen"])
    wanted = units(params, cfg, seeds, settings, streams, threads, root, paths)
    log.info("experiment %s: lambda %s, tau %s; %d settings x %d arms x %d seeds x %d streams", name,
             grid["chosen"]["weight"], grid["chosen"]["temperature"], len(settings), len(cfg["arms"]), len(seeds),
             len(streams))
    results = {(u.setting, u.arm, u.seed): r for u, r in zip(wanted, runner.results(wanted))}
    summary = {**summarise(params, cfg, seeds, settings, streams, results), "grid": grid}
    write_json(out / f"{name}.json", summary)
    write_text(out / f"{name}.md", report(summary))
    log.info("experiment %s -> %s", name, out / f"{name}.md")
    return out / f"{name}.md"
