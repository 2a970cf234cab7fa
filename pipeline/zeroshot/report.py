"""results/{ds}/zeroshot/metrics.md: the zero-shot table of a run, over its draws."""
from __future__ import annotations

import numpy as np

# (name in the table, path into a draw's variant result)
FIGURES = {"test_unseen_top1": ("test", "zsl", "top1"), "test_unseen_top5": ("test", "zsl", "top5"),
           "gzsl_seen": ("test", "gzsl", "seen_top1"), "gzsl_unseen": ("test", "gzsl", "unseen_top1"),
           "gzsl_h": ("test", "gzsl", "harmonic_mean"), "val_unseen_top1": ("val", "zsl", "top1"),
           "val_h": ("val", "gzsl", "harmonic_mean")}


def _get(result: dict, path: tuple[str, ...]) -> float:
    for key in path:
        result = result[key]
    return float(result)


def _spread(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "values": values}


def aggregate_draws(draws: list[dict], variants: list[str]) -> dict:
    """Per variant and figure: mean, sd (n-1; 0 for one draw) and the per-draw values; with
    ``x_chance``, each draw's test-unseen top-1 over its own chance (the draws' sets differ in size)."""
    out = {}
    for variant in variants:
        results = [d["variants"][variant] for d in draws]
        out[variant] = {name: _spread([_get(r, path) for r in results]) for name, path in FIGURES.items()}
        out[variant]["x_chance"] = _spread([r["test"]["zsl"]["top1"] / r["test"]["zsl"]["chance_top1"]
                                            for r in results])
        out[variant]["chance_top1"] = _spread([r["test"]["zsl"]["chance_top1"] for r in results])
        out[variant]["chance_top5"] = _spread([r["test"]["zsl"]["chance_top5"] for r in results])
    return out


def _ms(figure: dict) -> str:
    return f"{100 * figure['mean']:.1f} ± {100 * figure['sd']:.1f}"


def zero_shot_markdown(summary: dict) -> str:
    zs, draws, agg = summary["settings"], summary["draws"], summary["aggregate"]
    first = next(iter(draws[0]["variants"].values()))["test"]
    lines = [f"# Zero-shot recognition from description texts on `{summary['dataset']}`", "",
             f"{len(draws)} draw(s) of three disjoint class sets (seeds {', '.join(str(d['seed']) for d in draws)}; "
             f"{summary['pair_groups']} minimal-pair groups, each kept in one set):", "",
             "- **seen**: trained on, CE + MC terms " + str(zs["terms"]) + ";",
             "- **validation-unseen**: never trained on; every choice is made on them (validation split): the stream "
             f"(of {zs['streams']}), the scoring features (of {zs['features']}), the GZSL calibration gamma (of "
             f"{zs['calibration']});",
             "- **test-unseen**: never trained on, never chosen on; reported once (test split).", "",
             "| draw | seen | validation-unseen | test-unseen |", "|---|---|---|---|"]
    for d in draws:
        lines.append(f"| {d['seed']} | " + " | ".join(", ".join(c["gloss"] for c in d["sets"][name])
                                                      for name in ("seen", "val_unseen", "test_unseen")) + " |")
    lines += ["", "Test-unseen, top-k accuracy (%), mean ± sd over the draws. Unseen: the test-unseen classes' clips "
              "among the test-unseen classes. GZSL: seen and test-unseen clips among seen + test-unseen classes, "
              "calibrated stacking with the gamma chosen on validation; H: the harmonic mean of its seen and unseen "
              "top-1.", "",
              "| texts | test-unseen top-1 | top-5 | x chance (top-1) | GZSL seen | GZSL unseen | GZSL H "
              "| val-unseen top-1 | val H |", "|---|---|---|---|---|---|---|---|---|"]
    for variant, a in agg.items():
        lines.append(f"| `{variant}` | {_ms(a['test_unseen_top1'])} | {_ms(a['test_unseen_top5'])} | "
                     f"{a['x_chance']['mean']:.2f} ± {a['x_chance']['sd']:.2f} | "
                     f"{_ms(a['gzsl_seen'])} | {_ms(a['gzsl_unseen'])} | {_ms(a['gzsl_h'])} | "
                     f"{_ms(a['val_unseen_top1'])} | {_ms(a['val_h'])} |")
    a = next(iter(agg.values()))
    lines.append(f"| chance (mean over the draws) | {100 * a['chance_top1']['mean']:.1f} | "
                 f"{100 * a['chance_top5']['mean']:.1f} | 1.00 | | | | | |")
    lines += ["", "Choices per draw (made on validation-unseen):", "",
              "| draw | texts | stream | features | gamma | seen classifier top-1 |", "|---|---|---|---|---|---|"]
    for d in draws:
        for variant, r in d["variants"].items():
            c = r["chosen"]
            lines.append(f"| {d['seed']} | `{variant}` | {c['stream']} | {' + '.join(c['features'])} | {c['gamma']} | "
                         f"{100 * r['seen_classifier']['test']['top1']:.1f} |")
    variants = draws[0]["variants"]
    lacking = {v: r.get("lacking_terms") for v, r in variants.items() if r.get("lacking_terms")}
    texts = [f"`{v}`: {r['text']['encoder']} ({r['text']['dim']}-d)" for v, r in variants.items() if r.get("text")]
    if texts:
        lines += ["", "Text encoder: " + "; ".join(texts) + "."]
    if lacking:
        lines += ["", "Trained without the terms a variant has no texts for: "
                  + "; ".join(f"`{v}` lacks {', '.join(t)}" for v, t in lacking.items()) + "."]
    lines += ["", f"Clips per draw (first draw): {first['zsl']['n']} test-unseen and {first['gzsl']['n_seen']} seen "
              "test clips. `seen classifier`: the chosen stream's CE head on the seen classes' test clips "
              "(supervised, for scale)."]
    return "\n".join(lines) + "\n"
