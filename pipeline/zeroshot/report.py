"""results/{ds}/zeroshot/metrics.md: the zero-shot table of a run."""
from __future__ import annotations


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def zero_shot_markdown(summary: dict) -> str:
    zs, unseen = summary["settings"], summary["unseen"]
    first = next(iter(summary["variants"].values()))["test"]   # chance is the same for every variant
    zsl, gzsl = first["zsl"], first["gzsl"]
    lines = [f"# Zero-shot recognition from description texts on `{summary['dataset']}`", "",
             f"{len(unseen)} of {summary['num_classes']} classes held out of training (`zeroshot.holdout` "
             f"{zs['holdout']}, seed {summary['holdout_seed']}): "
             + ", ".join(f"{u['gloss']} ({u['label']})" for u in unseen) + ".",
             f"Stream `{zs['stream']}`, trained on the seen classes with CE + MC terms {zs['terms']}; "
             f"classes scored by the mean cosine of the {' and '.join(zs['features'])} feature(s) to their texts.",
             "", "Test split, top-k accuracy (%). Unseen: the unseen classes' clips among the unseen classes. "
             "GZSL: every clip among all classes; H is the harmonic mean of its seen and unseen top-1.", "",
             "| texts | unseen top-1 | unseen top-5 | x chance (top-1) | GZSL seen | GZSL unseen | GZSL H "
             "| val unseen top-1 | seen classifier top-1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for variant, r in summary["variants"].items():
        t, v = r["test"], r["val"]
        lines.append(f"| `{variant}` | {_pct(t['zsl']['top1'])} | {_pct(t['zsl']['top5'])} | "
                     f"{t['zsl']['top1'] / t['zsl']['chance_top1']:.2f} | {_pct(t['gzsl']['seen_top1'])} | "
                     f"{_pct(t['gzsl']['unseen_top1'])} | {_pct(t['gzsl']['harmonic_mean'])} | "
                     f"{_pct(v['zsl']['top1'] if v else None)} | {_pct(r['seen_classifier']['test']['top1'])} |")
    lines.append(f"| chance | {_pct(zsl['chance_top1'])} | {_pct(zsl['chance_top5'])} | 1.00 "
                 f"| {_pct(gzsl['chance_top1'])} | {_pct(gzsl['chance_top1'])} | {_pct(gzsl['chance_top1'])} "
                 f"| {_pct(zsl['chance_top1'])} | "
                 f"{_pct(1 / (summary['num_classes'] - len(unseen)))} |")
    lacking = {v: r.get("lacking_terms") for v, r in summary["variants"].items() if r.get("lacking_terms")}
    texts = [f"`{v}`: {r['text']['encoder']} ({r['text']['dim']}-d)" for v, r in summary["variants"].items()
             if r.get("text")]
    if texts:
        lines += ["", "Text encoder: " + "; ".join(texts) + "."]
    if lacking:
        lines += ["", "Trained without the terms a variant has no texts for: "
                  + "; ".join(f"`{v}` lacks {', '.join(t)}" for v, t in lacking.items()) + "."]
    lines += ["", f"Clips: {zsl['n']} unseen-class and {gzsl['n_seen']} seen-class test clips. "
              "`seen classifier`: the CE head on the seen classes' test clips (supervised, for scale). "
              "This stage chooses nothing on validation."]
    return "\n".join(lines) + "\n"
