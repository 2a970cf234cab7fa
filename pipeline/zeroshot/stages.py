"""The zeroshot stage: hold classes out, train one stream on the others with the MC terms
for each description variant, recognise the held-out classes from their texts alone.

Decisions (README, "Zero-shot from dictionary text"):
- The held-out classes are removed, not just unlabelled: training sees the seen classes'
  clips relabelled 0..S-1 and a text bank cut to their texts (TextBank.only_classes). So
  the CE head has S outputs: an output for an unseen class would only ever be pushed down,
  and with the cut bank no unseen text can reach training even through mc.centre_text's
  mean. Unseen clips (val and test) are only embedded and scored, after training.
- Every variant trains with the same seed, seen classes, data order and crops: the
  variants differ by their texts alone, so their zero-shot numbers are paired.
- The validation split chooses nothing; its zero-shot numbers are reported beside test.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..evaluate.pages import markdown_page
from ..io import write_json, write_text
from ..names import ZEROSHOT_MC_KEYS
from ..text.bank import TextBank
from ..train.data import SplitData, load_splits
from ..train.feeder import Feeder
from ..train.loop import MCSetup, TrainOutputs, fingerprint, load_trained, pick_device, train_stream
from ..train.mc import check_text_coverage, terms_with_texts
from .features import clip_features
from .holdout import choose_unseen, seen_classes
from .metrics import zero_shot_report
from .report import zero_shot_markdown
from .scores import zero_shot_scores
from .split import of_classes

log = logging.getLogger(__name__)


def holdout_seed(params: dict) -> int:
    seed = params["zeroshot"]["holdout_seed"]
    return params["seed"] if seed is None else seed


def evaluable(data: SplitData | None, unseen: np.ndarray) -> bool:
    """A split with clips of both unseen and seen classes (zero_shot_report needs both)."""
    if data is None:
        return False
    is_unseen = np.isin(data.labels, unseen)
    return bool(is_unseen.any() and not is_unseen.all())


def run_zeroshot(params: dict, keypoints_dir: Path, manifest: Path, classes_path: Path, text_dir: Path,
                 out_dir: Path) -> dict:
    zs, cfg = params["zeroshot"], params["train"]
    mc_cfg = {k: params["mc"][k] for k in ZEROSHOT_MC_KEYS}
    splits, meta, classes = load_splits(keypoints_dir, manifest, classes_path, **cfg["clips"])
    for split in ("train", "test"):
        if split not in splits:
            raise ValueError(f"{manifest}: no samples in the {split} split")
    unseen = choose_unseen(len(classes), zs["holdout"], holdout_seed(params))
    seen = seen_classes(len(classes), unseen)
    glosses = classes["gloss"].tolist()
    log.info("zero-shot: %d unseen classes (%s), %d seen", len(unseen), ", ".join(glosses[c] for c in unseen),
             len(seen))
    untested = [glosses[c] for c in unseen if c not in set(splits["test"].labels.tolist())]
    if len(untested) == len(unseen):
        raise ValueError(f"{manifest}: no test clip of any held-out class ({', '.join(untested)}); "
                         f"change zeroshot.holdout_seed")
    if untested:
        log.warning("held-out class(es) without test clips: %s", ", ".join(untested))
    seen_splits = {s: of_classes(d, seen) for s, d in splits.items()}
    parents = tuple(meta["parents"])
    edges = [(c, p) for c, p in enumerate(parents) if p >= 0]

    def feeder(d: SplitData) -> Feeder:
        return Feeder.of_split(d, zs["stream"], parents, cfg)

    device = pick_device(cfg["device"])
    results = {}
    for variant in zs["variants"]:
        text_bank = Path(text_dir) / f"{variant}.safetensors"
        if not text_bank.exists():
            raise FileNotFoundError(f"{text_bank}: no text bank for zeroshot.variants {variant!r} "
                                    f"(run the embed stage)")
        bank = TextBank.load(text_bank)
        if bank.num_classes != len(classes):
            raise ValueError(f"{text_bank}: texts for {bank.num_classes} classes, but the class list has "
                             f"{len(classes)}")
        seen_bank = bank.only_classes(seen)
        # a variant compared here may have no text at all for a term (`label`: the gloss, no synonyms
        # or segments): it trains the terms it has texts for, and metrics.md says which it lacked
        terms, lacking = terms_with_texts(seen_bank, list(zs["terms"]))
        if not terms:
            raise ValueError(f"zeroshot.terms {zs['terms']}: the {variant} descriptions ({text_bank}) have texts for "
                             f"none of them; add 'global' to zeroshot.terms or drop {variant!r} from zeroshot.variants")
        if lacking:
            log.warning("zero-shot %s: no %s texts in this variant; trained with %s only", variant,
                        " or ".join(lacking), ", ".join(terms))
        coverage = check_text_coverage(seen_bank, terms, mc_cfg, [glosses[c] for c in seen],
                                       f"{text_bank} (seen classes)")
        mc = MCSetup(seen_bank, terms, mc_cfg["temperature"], mc_cfg["weight"],
                     {k: list(v) for k, v in meta["parts"].items()}, mc_cfg["centre_text"], coverage)
        run_dir = Path(out_dir) / "runs" / variant
        fp = fingerprint(params["model"], cfg, mc_cfg, terms, params["seed"], zs["stream"], seen.tolist(),
                         Path(keypoints_dir), Path(manifest), Path(classes_path), text_bank)
        log.info("zero-shot %s: training %s on the %d seen classes (%d clips)", variant, zs["stream"], len(seen),
                 len(seen_splits["train"].labels))
        supervised = train_stream(feeder(seen_splits["train"]),
                                  feeder(seen_splits["val"]) if "val" in seen_splits else None,
                                  feeder(seen_splits["test"]), len(seen), edges, params["model"], cfg, params["seed"],
                                  run_dir, fp, mc, keep_heads=True)
        model, heads = load_trained(TrainOutputs.in_dir(run_dir).model, edges, device)
        # scored texts get the shift training's texts had (centred on the seen classes' means)
        scoring_bank = bank.centred(on=seen_bank) if mc_cfg["centre_text"] else bank
        out = {"seen_classifier": {"test": supervised["test"], "val": supervised["val"]},
               "terms": terms, "lacking_terms": lacking, "text": coverage}
        for split in ("test", "val"):
            data = splits.get(split)
            if not evaluable(data, unseen):
                if split == "test":
                    raise ValueError(f"{manifest}: the test split needs clips of seen and of held-out classes")
                out[split] = None      # no val split, or one without both kinds of class
                continue
            glob, parts = clip_features(model, heads, feeder(data), cfg["batch_size"], device)
            out[split] = zero_shot_report(zero_shot_scores(glob, parts, scoring_bank, np.arange(len(classes)),
                                                           zs["features"]), data.labels, unseen)
        t = out["test"]
        log.info("zero-shot %s: unseen top-1 %.3f (chance %.3f), top-5 %.3f; GZSL seen %.3f unseen %.3f H %.3f",
                 variant, t["zsl"]["top1"], t["zsl"]["chance_top1"], t["zsl"]["top5"], t["gzsl"]["seen_top1"],
                 t["gzsl"]["unseen_top1"], t["gzsl"]["harmonic_mean"])
        results[variant] = out
    summary = {"dataset": params["dataset"], "num_classes": len(classes), "holdout_seed": holdout_seed(params),
               "seed": params["seed"], "settings": zs, "mc": mc_cfg,
               "unseen": [{"label": int(c), "gloss": glosses[c]} for c in unseen], "variants": results}
    write_json(Path(out_dir) / "metrics.json", summary)
    markdown = zero_shot_markdown(summary)
    write_text(Path(out_dir) / "metrics.md", markdown)
    write_text(Path(out_dir) / "metrics.html", markdown_page(markdown))     # for snakemake --report
    return summary
