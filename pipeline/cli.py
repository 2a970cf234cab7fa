"""`python -m pipeline <stage> ...`: one sub-command per stage, each thin."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import ParamsError, load_params

log = logging.getLogger("pipeline")


def _manifest(args, params):
    from .data.stages import run_manifest
    run_manifest(params, args.out_dir, args.root)


def _pose(args, params):
    from .pose.stages import run_pose
    run_pose(params, args.manifest, args.corpus, args.out, args.shard,
             args.workers if args.workers is not None else params["pose"]["workers"])


def _keypoints(args, params):
    from .data.stages import run_keypoints
    run_keypoints(params, args.pose, args.out, args.preset)


def _kb_index(args, params):
    from .describe.stages import run_kb_index
    run_kb_index(params, args.knowledge, args.out)


def _describe(args, params):
    from .describe.stages import run_describe
    run_describe(params, args.variant, args.classes, args.knowledge, args.index, args.out, args.report)


def _train(args, params):
    from .train.stages import run_train
    run_train(params, args.stream, args.keypoints, args.manifest, args.classes, args.text, args.out,
              args.ablation)


def _embed(args, params):
    from .text.stages import run_embed
    run_embed(params, args.descriptions, args.classes, args.out)


def _ensemble(args, params):
    from .evaluate.stages import run_ensemble
    run_ensemble(params, args.train_dir, args.out)


def _tables(args, params):
    from .evaluate.stages import run_tables
    run_tables(params, args.results, args.out_dir)


def _experiment(args, params):
    from .experiment.mc import run_mc_experiment
    seeds = args.seeds if args.seeds is not None else params["experiments"]["mc"]["seeds"]
    run_mc_experiment(params, list(range(seeds)), args.jobs, args.streams, args.name)


def _benchmark(args, params):
    from .benchmark import run_benchmark
    run_benchmark(args, params)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline",
                                     description="GSP-MC sign language recognition pipeline stages.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")

    p = sub.add_parser("manifest", help="dataset -> manifest.parquet, classes.csv (demo: + corpus, knowledge base)")
    p.add_argument("--out-dir", type=Path, required=True, help="results/<dataset>")
    p.add_argument("--root", help="the dataset's folder, instead of datasets.<dataset>.root "
                                  "(snakemake --config dataset_root=PATH passes it)")
    p.set_defaults(func=_manifest)

    p = sub.add_parser("pose", help="manifest -> COCO-WholeBody-133 pose shards")
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--corpus", type=Path, help="corpus.json (pose.backend synthetic: the demo dataset)")
    p.add_argument("--out", type=Path, required=True, help="pose shard directory")
    p.add_argument("--shard", type=int, help="compute this shard only (one job); without it: every shard "
                   "that is not up to date, then index.json and quarantine.csv")
    p.add_argument("--workers", type=int, help="shards in parallel (default: pose.workers)")
    p.set_defaults(func=_pose)

    p = sub.add_parser("keypoints", help="pose shards -> normalised keypoint shards of the preset")
    p.add_argument("--pose", type=Path, required=True, help="pose shard directory")
    p.add_argument("--out", type=Path, required=True, help="keypoint shard directory")
    p.add_argument("--preset", help="this keypoint preset instead of keypoints.preset (the Table 6 runs)")
    p.set_defaults(func=_keypoints)

    p = sub.add_parser("kb-index", help="knowledge-base folder (txt, md, csv, pdf) -> persisted vector index")
    p.add_argument("--knowledge", type=Path, required=True, help="the dictionary folder")
    p.add_argument("--out", type=Path, required=True, help="index directory")
    p.set_defaults(func=_kb_index)

    p = sub.add_parser("describe", help="GSP descriptions per class (one Table 4 variant) -> jsonl + report")
    p.add_argument("--variant", required=True, choices=["label", "llm", "kb", "gsp"])
    p.add_argument("--classes", type=Path, required=True)
    p.add_argument("--knowledge", type=Path, required=True)
    p.add_argument("--index", type=Path, required=True, help="the kb-index directory")
    p.add_argument("--out", type=Path, required=True, help="descriptions jsonl")
    p.add_argument("--report", type=Path, required=True, help="Table-1 style markdown report")
    p.set_defaults(func=_describe)

    p = sub.add_parser("embed", help="descriptions -> text bank (safetensors), each unique text encoded once")
    p.add_argument("--descriptions", type=Path, required=True)
    p.add_argument("--classes", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="results/<dataset>/text/<variant>.safetensors")
    p.set_defaults(func=_embed)

    p = sub.add_parser("train", help="train one stream; checkpoints every epoch and resumes")
    p.add_argument("--stream", required=True, choices=["joint", "bone", "joint_motion", "bone_motion"])
    p.add_argument("--keypoints", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--classes", type=Path, required=True)
    p.add_argument("--text", type=Path, required=True, help="the text bank (embed stage) for the MC terms")
    p.add_argument("--out", type=Path, required=True, help="results/<dataset>/train/<stream>")
    p.add_argument("--ablation", help="train with the MC terms of the run params.ablations.runs[NAME]")
    p.set_defaults(func=_train)

    p = sub.add_parser("ensemble", help="weighted sum of the streams' scores -> metrics.json")
    p.add_argument("--train-dir", type=Path, required=True, help="results/<dataset>/train")
    p.add_argument("--out", type=Path, required=True, help="metrics.json")
    p.set_defaults(func=_ensemble)

    p = sub.add_parser("tables", help="the paper's Tables 2-6, class-wise gains and confusions from results/")
    p.add_argument("--results", type=Path, required=True, help="the results folder (all datasets)")
    p.add_argument("--out-dir", type=Path, required=True, help="results/<dataset>/tables")
    p.set_defaults(func=_tables)

    p = sub.add_parser("experiment", help="paired multi-seed comparisons -> results/<dataset>/experiments/")
    p.add_argument("what", choices=["mc"], help="mc: CE only vs GSP-MC, params experiments.mc")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 (default: experiments.mc.seeds)")
    p.add_argument("--jobs", type=int, default=1, help="training runs in parallel (each gets "
                   "train.threads / jobs torch threads)")
    p.add_argument("--streams", nargs="+", help="train these streams only (default: all four and their "
                   "ensemble); e.g. --streams joint to screen an MC variant quickly")
    p.add_argument("--name", default="mc", help="results/<dataset>/experiments/<name>.{json,md} (default: mc)")
    p.set_defaults(func=_experiment)

    p = sub.add_parser("benchmark", help="training throughput and memory; describe cost; the demo DAG's time")
    p.add_argument("what", choices=["train", "describe", "dag", "pose"])
    p.add_argument("--steps", type=int, default=4, help="timed training steps per configuration")
    p.add_argument("--config", choices=["demo", "paper", "both"], default="both")
    p.add_argument("--video", type=Path, default=Path("../shared/fixtures/video/signing-person.mp4"),
                   help="pose: the video to time the backends on")
    p.add_argument("--copies", type=int, default=8, help="pose: copies of the video for the parallel run")
    p.set_defaults(func=_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        params = load_params(args.params)
        args.func(args, params)
    except (ParamsError, ValueError, LookupError, FileNotFoundError, RuntimeError) as exc:
        log.error("%s failed: %s", args.stage, exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return 2
    return 0
