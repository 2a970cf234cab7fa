"""The zeroshot stage: zero-shot recognition by the protocol (holdout.py): per draw, three
disjoint class sets (seen, validation-unseen, test-unseen; minimal-pair partners together);
per description variant, each candidate stream trained on the seen classes with the MC terms;
every choice made on validation-unseen, test-unseen reported once.

Decisions (docs/inference.md, "Zero-shot from dictionary text"):
- The held-out classes are removed, not just unlabelled: training sees the seen classes'
  clips relabelled 0..S-1 and a text bank cut to their texts (TextBank.only_classes). So
  the CE head has S outputs, and with the cut bank no unseen text can reach training even
  through mc.centre_text's mean. Unseen clips are only embedded and scored, after training.
- Validation-unseen classes are scored on the validation split's clips (signers training never
  saw), with the seen classes' validation clips for generalised zero-shot (candidates: seen +
  validation-unseen); test-unseen on the test split (candidates: seen + test-unseen). Choices, in
  order: the stream and the scoring features (zeroshot.streams x zeroshot.features) by the
  validation-unseen top-1, then the calibration gamma (zeroshot.calibration) by validation H.
  Only the chosen stream's model ever sees a test clip.
- Every variant trains with the same seed, seen classes, data order and crops: the variants
  differ by their texts alone, so their zero-shot numbers are paired within a draw.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..config import holdout_sizes
from ..evaluate.pages import markdown_page
from ..io import write_json, write_text
from ..names import ZEROSHOT_MC_KEYS
from ..text.bank import TextBank
from ..train.data import SplitData, load_splits
from ..train.feeder import Feeder
from ..train.loop import MCSetup, TrainOutputs, fingerprint, load_trained, pick_device, train_stream
from ..train.mc import check_text_coverage, terms_with_texts
from .features import clip_features
from .holdout import CLASS_SETS, draw_class_sets, pair_groups
from .metrics import choose_gamma, zero_shot_report
from .report import aggregate_draws, zero_shot_markdown
from .scores import zero_shot_scores
from .split import clips_of, of_classes

log = logging.getLogger(__name__)


def holdout_seed(params: dict) -> int:
    seed = params["zeroshot"]["holdout_seed"]
    return params["seed"] if seed is None else seed


class Draw:
    """One draw's class sets and the data every variant of it trains and is scored on."""

    def __init__(self, index: int, seed: int, sets: dict[str, np.ndarray], splits: dict[str, SplitData]):
        self.index, self.seed, self.sets = index, seed, sets
        self.seen = sets["seen"]
        self.train = {s: of_classes(d, self.seen) for s, d in splits.items()}
        # what each unseen set is scored on: its split's clips of it and of the seen classes
        self.candidates = {"val": np.sort(np.concatenate([self.seen, sets["val_unseen"]])),
                           "test": np.sort(np.concatenate([self.seen, sets["test_unseen"]]))}
        self.unseen = {"val": sets["val_unseen"], "test": sets["test_unseen"]}
        self.scored = {s: clips_of(splits[s], self.candidates[s]) for s in ("val", "test")}
        for s in ("val", "test"):
            labels = self.scored[s].labels
            if not np.isin(labels, self.unseen[s]).any():
                raise ValueError(f"zero-shot draw {seed}: no {s} clip of any {s}-unseen class")


def run_zeroshot(params: dict, keypoints_dir: Path, manifest: Path, classes_path: Path, corpus: Path,
                 text_dir: Path, out_dir: Path) -> dict:
    zs, cfg = params["zeroshot"], params["train"]
    mc_cfg = {k: params["mc"][k] for k in ZEROSHOT_MC_KEYS}
    splits, meta, classes = load_splits(keypoints_dir, manifest, classes_path, **cfg["clips"])
    for split in ("train", "val", "test"):
        if split not in splits:
            raise ValueError(f"{manifest}: no samples in the {split} split (zero-shot scores its validation-unseen "
                             f"classes on the validation split)")
    glosses = classes["gloss"].tolist()
    groups = pair_groups(json.loads(Path(corpus).read_text()), glosses)
    n_test, n_val = holdout_sizes(zs, len(classes))
    banks = {}
    for variant in zs["variants"]:
        text_bank = Path(text_dir) / f"{variant}.safetensors"
        if not text_bank.exists():
            raise FileNotFoundError(f"{text_bank}: no text bank for zeroshot.variants {variant!r} "
                                    f"(run the embed stage)")
        banks[variant] = (text_bank, TextBank.load(text_bank))
        if banks[variant][1].num_classes != len(classes):
            raise ValueError(f"{text_bank}: texts for {banks[variant][1].num_classes} classes, but the class list has "
                             f"{len(classes)}")
    parents = tuple(meta["parents"])
    run = _Runner(params, mc_cfg, parents, meta, glosses, Path(out_dir),
                  (Path(keypoints_dir), Path(manifest), Path(classes_path)))
    draws, tested = [], set()
    for d in range(zs["draws"]):
        sets = draw_class_sets(groups, n_test, n_val, holdout_seed(params) + d, tested)
        tested |= set(sets["test_unseen"].tolist())
        draw = Draw(d, holdout_seed(params) + d, sets, splits)
        log.info("zero-shot draw %d: %s", draw.seed, "; ".join(
            f"{name} {', '.join(glosses[c] for c in draw.sets[name])}" for name in CLASS_SETS))
        results = {variant: run.variant(draw, variant, *banks[variant]) for variant in zs["variants"]}
        draws.append({"seed": draw.seed, "sets": {name: [{"label": int(c), "gloss": glosses[c]}
                                                         for c in draw.sets[name]] for name in CLASS_SETS},
                      "variants": results})
    summary = {"dataset": params["dataset"], "num_classes": len(classes), "seed": params["seed"], "settings": zs,
               "mc": mc_cfg, "pair_groups": sum(len(g) > 1 for g in groups), "draws": draws,
               "aggregate": aggregate_draws(draws, zs["variants"])}
    write_json(Path(out_dir) / "metrics.json", summary)
    markdown = zero_shot_markdown(summary)
    write_text(Path(out_dir) / "metrics.md", markdown)
    write_text(Path(out_dir) / "metrics.html", markdown_page(markdown))     # for snakemake --report
    return summary


class _Runner:
    """Trains a variant's candidate streams on a draw's seen classes and makes its choices."""

    def __init__(self, params: dict, mc_cfg: dict, parents: tuple, meta: dict, glosses: list[str], out_dir: Path,
                 data_paths: tuple[Path, Path, Path]):
        self.params, self.mc_cfg, self.parents, self.meta = params, mc_cfg, parents, meta
        self.zs, self.cfg = params["zeroshot"], params["train"]
        self.glosses, self.out_dir, self.data_paths = glosses, out_dir, data_paths
        self.device = pick_device(self.cfg["device"])

    def feeder(self, data: SplitData, stream: str) -> Feeder:
        return Feeder.of_split(data, stream, self.parents, self.cfg)

    def clip_features(self, run_dir: Path, draw: Draw, split: str, stream: str):
        """The trained run's global and part features of a split's scored clips."""
        model, heads = load_trained(TrainOutputs.in_dir(run_dir).model, self._edges(), self.device)
        return clip_features(model, heads, self.feeder(draw.scored[split], stream), self.cfg["batch_size"],
                             self.device)

    def run_dir(self, draw: Draw, variant: str, stream: str) -> Path:
        return self.out_dir / "runs" / f"draw{draw.index}" / variant / stream

    def variant(self, draw: Draw, variant: str, text_bank: Path, bank: TextBank) -> dict:
        zs = self.zs
        seen_bank = bank.only_classes(draw.seen)
        # a variant compared here may have no text at all for a term (`label`: the gloss, no synonyms
        # or segments): it trains the terms it has texts for, and metrics.md says which it lacked
        terms, lacking = terms_with_texts(seen_bank, list(zs["terms"]))
        if not terms:
            raise ValueError(f"zeroshot.terms {zs['terms']}: the {variant} descriptions ({text_bank}) have texts for "
                             f"none of them; add 'global' to zeroshot.terms or drop {variant!r} from zeroshot.variants")
        if lacking:
            log.warning("zero-shot %s: no %s texts in this variant; trained with %s only", variant,
                        " or ".join(lacking), ", ".join(terms))
        coverage = check_text_coverage(seen_bank, terms, self.mc_cfg, [self.glosses[c] for c in draw.seen],
                                       f"{text_bank} (seen classes)")
        mc = MCSetup(seen_bank, terms, self.mc_cfg["temperature"], self.mc_cfg["weight"],
                     {k: list(v) for k, v in self.meta["parts"].items()}, self.mc_cfg["centre_text"], coverage)
        # scored texts get the shift training's texts had (centred on the seen classes' means)
        scoring_bank = bank.centred(on=seen_bank) if self.mc_cfg["centre_text"] else bank
        usable = [f for f in zs["features"] if "parts" not in f or "parts" in terms or "global" in f]
        tried, supervised = [], {}
        for stream in zs["streams"]:
            run_dir = self.run_dir(draw, variant, stream)
            fp = fingerprint(self.params["model"], self.cfg, self.mc_cfg, terms, self.params["seed"], stream,
                             draw.seen.tolist(), *self.data_paths, text_bank)
            log.info("zero-shot draw %d %s: training %s on the %d seen classes (%d clips)", draw.seed, variant, stream,
                     len(draw.seen), len(draw.train["train"].labels))
            supervised[stream] = train_stream(
                self.feeder(draw.train["train"], stream), self.feeder(draw.train["val"], stream),
                self.feeder(draw.train["test"], stream), len(draw.seen), self._edges(), self.params["model"],
                self.cfg, self.params["seed"], run_dir, fp, mc, keep_heads=True)
            glob, parts = self.clip_features(run_dir, draw, "val", stream)
            for features in usable:
                scores = zero_shot_scores(glob, parts, scoring_bank, draw.candidates["val"], features)
                top1 = zero_shot_report(scores, draw.scored["val"].labels, draw.candidates["val"],
                                        draw.unseen["val"])["zsl"]["top1"]
                tried.append({"stream": stream, "features": list(features), "val_unseen_top1": top1, "scores": scores})
        best = max(tried, key=lambda t: t["val_unseen_top1"])     # the first of equals: params order
        val_labels = draw.scored["val"].labels
        gamma = choose_gamma(best["scores"], val_labels, draw.candidates["val"], draw.unseen["val"],
                             zs["calibration"])
        val = zero_shot_report(best["scores"], val_labels, draw.candidates["val"], draw.unseen["val"], gamma)
        stream = best["stream"]
        glob, parts = self.clip_features(self.run_dir(draw, variant, stream), draw, "test", stream)
        test_scores = zero_shot_scores(glob, parts, scoring_bank, draw.candidates["test"], best["features"])
        test = zero_shot_report(test_scores, draw.scored["test"].labels, draw.candidates["test"], draw.unseen["test"],
                                gamma)
        log.info("zero-shot draw %d %s (%s, %s, gamma %.2f): test-unseen top-1 %.3f (chance %.3f); GZSL seen %.3f "
                 "unseen %.3f H %.3f", draw.seed, variant, stream, "+".join(best["features"]), gamma,
                 test["zsl"]["top1"], test["zsl"]["chance_top1"], test["gzsl"]["seen_top1"],
                 test["gzsl"]["unseen_top1"], test["gzsl"]["harmonic_mean"])
        return {"chosen": {"stream": stream, "features": best["features"], "gamma": gamma},
                "tried": [{k: v for k, v in t.items() if k != "scores"} for t in tried],
                "val": val, "test": test, "seen_classifier": {"test": supervised[stream]["test"]},
                "terms": terms, "lacking_terms": lacking, "text": coverage}

    def _edges(self) -> list[tuple[int, int]]:
        return [(c, p) for c, p in enumerate(self.parents) if p >= 0]
