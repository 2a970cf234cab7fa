"""The demo corpus: class specs, signers, the signer-independent split, the manifest."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .body import STRATIFIED_TRAITS, Signer, sample_signer
from .glosses import GLOSSES
from .phonology import SignSpec, make_class_set
from .render import DetectorNoise, clip_timeline, render_clip


@dataclass(frozen=True)
class Corpus:
    signs: list[SignSpec]
    signers: list[Signer]
    splits: dict[int, str]      # signer id -> train | val | test
    repetitions: int
    fps: float
    image_size: int
    seed: int
    noise: DetectorNoise

    def to_dict(self) -> dict:
        return {
            "signs": [s.to_dict() for s in self.signs],
            "signers": [s.to_dict() for s in self.signers],
            "splits": {str(k): v for k, v in self.splits.items()},
            "repetitions": self.repetitions, "fps": self.fps, "image_size": self.image_size, "seed": self.seed,
            "noise": self.noise.to_dict(),
        }

    @staticmethod
    def from_dict(d: dict) -> "Corpus":
        return Corpus(
            signs=[SignSpec.from_dict(s) for s in d["signs"]],
            signers=[Signer.from_dict(s) for s in d["signers"]],
            splits={int(k): v for k, v in d["splits"].items()},
            repetitions=int(d["repetitions"]), fps=float(d["fps"]), image_size=int(d["image_size"]),
            seed=int(d["seed"]), noise=DetectorNoise(**d["noise"]),
        )

    def clip_seed(self, label: int, signer: int, rep: int) -> list[int]:
        return [self.seed, 11, label, signer, rep]

    def sample_id(self, label: int, signer: int, rep: int) -> str:
        return f"s{signer:03d}_c{label:04d}_r{rep}"

    def manifest(self, source: str = "") -> pd.DataFrame:
        """One row per clip; ``source`` fills the `video` column (where the corpus is)."""
        rows = []
        for label, sign in enumerate(self.signs):
            for s in self.signers:
                for rep in range(self.repetitions):
                    rng = np.random.default_rng(self.clip_seed(label, s.signer_id, rep))
                    n_frames, _, _ = clip_timeline(sign, s, rng, self.fps)
                    rows.append({
                        "sample_id": self.sample_id(label, s.signer_id, rep),
                        "split": self.splits[s.signer_id], "signer": s.signer_id, "label": label,
                        "gloss": sign.gloss, "video": source, "n_frames": n_frames, "fps": self.fps,
                    })
        return pd.DataFrame(rows).sort_values("sample_id", ignore_index=True)

    def render(self, sample_id: str) -> np.ndarray:
        signer, label, rep = (int(part[1:]) for part in sample_id.split("_"))
        s = next(x for x in self.signers if x.signer_id == signer)
        return render_clip(self.signs[label], s, self.clip_seed(label, signer, rep), self.fps,
                           self.image_size, self.noise)


def stratified_quantiles(splits: dict[int, str], rng: np.random.Generator) -> dict[int, dict[str, float]]:
    """Each split's signers cover every stratified trait's whole range (a Latin hypercube per
    split): with m signers in a split, each trait's range is cut into m equal strata and every
    stratum holds one of them, placed at random inside it; the strata are shuffled per trait
    independently. So train, val and test span the same yaw, size, speed and movement size, not
    by the luck of the seed (issue 27: a validation signer outside the training yaw scored 13 %)."""
    out: dict[int, dict[str, float]] = {k: {} for k in splits}
    for split in sorted(set(splits.values())):
        members = sorted(k for k, v in splits.items() if v == split)
        for trait in STRATIFIED_TRAITS:
            strata = rng.permutation(len(members))
            for k, stratum in zip(members, strata):
                out[k][trait] = float((stratum + rng.uniform()) / len(members))
    return out


def assign_handedness(signers: list[Signer], splits: dict[int, str], fraction: float,
                      rng: np.random.Generator) -> list[Signer]:
    """round(fraction x signers) left-handed signers in each split, at least one per split when
    fraction > 0: every split sees what left-handedness does (mirrored clips)."""
    left: set[int] = set()
    for split in sorted(set(splits.values())):
        members = sorted(k for k, v in splits.items() if v == split)
        n_left = max(1, int(round(fraction * len(members)))) if fraction > 0 else 0
        left |= {members[i] for i in rng.permutation(len(members))[:n_left]}
    return [replace(s, right_handed=s.signer_id not in left) for s in signers]


def build_corpus(cfg: dict, seed: int) -> Corpus:
    """The corpus from the ``synthetic`` params section."""
    n_classes = cfg["classes"]
    if n_classes > len(GLOSSES):
        raise ValueError(f"synthetic.classes={n_classes} exceeds the {len(GLOSSES)} available glosses")
    n_signers = cfg["signers"]
    n_val, n_test = cfg["val_signers"], cfg["test_signers"]
    if n_val + n_test >= n_signers:
        raise ValueError("synthetic.val_signers + synthetic.test_signers must leave training signers")
    rng = np.random.default_rng([seed, 1])
    glosses = [GLOSSES[int(i)] for i in rng.permutation(len(GLOSSES))[:n_classes]]
    signs = make_class_set(rng, glosses, cfg["minimal_pair_fraction"])
    order = np.random.default_rng([seed, 3]).permutation(n_signers)
    splits = {}
    for rank, k in enumerate(order):
        splits[int(k)] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    quantiles = stratified_quantiles(splits, np.random.default_rng([seed, 5]))
    signers = [sample_signer(np.random.default_rng([seed, 2, k]), k, cfg["dropout"], quantiles[k])
               for k in range(n_signers)]
    signers = assign_handedness(signers, splits, cfg["left_handed_fraction"], np.random.default_rng([seed, 4]))
    return Corpus(signs=signs, signers=signers, splits=splits, repetitions=cfg["repetitions"],
                  fps=float(cfg["fps"]), image_size=int(cfg["image_size"]), seed=seed,
                  noise=DetectorNoise(**cfg["noise"]))
