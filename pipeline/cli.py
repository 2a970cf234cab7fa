"""`python -m pipeline <stage> ...`: one sub-command per stage, each thin."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .config import ParamsError, load_params
from .names import STREAMS, VARIANTS
from .params_view import declared_view
from .runners import check_one_runner
from .stage_params import STAGE_PARAMS, stage_params

log = logging.getLogger("pipeline")


def _sources(args, params):
    from .data.stages import run_sources
    run_sources(params, args.out, args.root)


def _manifest(args, params):
    from .data.stages import run_manifest
    run_manifest(params, args.out_dir, args.root)


def _pose(args, params):
    from .pose.stages import run_pose
    run_pose(params, args.manifest, args.out, args.shard,
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
    run_ensemble(params, args.train_dir, args.out, args.run)


def _tables(args, params):
    from .evaluate.stages import run_tables
    run_tables(params, args.results, args.out_dir)


def _experiment(args, params):
    from .experiment.mc import run_mc_experiment
    seeds = args.seeds if args.seeds is not None else params["experiments"]["mc"]["seeds"]
    run_mc_experiment(params, list(range(seeds)), args.jobs, args.streams, args.name, args.settings)


def _zeroshot(args, params):
    from .zeroshot.stages import run_zeroshot
    run_zeroshot(params, args.keypoints, args.manifest, args.classes, args.corpus, args.text_dir, args.out_dir)


def _figures(args, params):
    from .evaluate.figures import run_figures
    run_figures(args.run, args.classes, args.out_dir)


def _page(args, params):
    from .evaluate.pages import markdown_page
    from .io import write_text
    write_text(args.out, markdown_page(args.markdown.read_text()))


def _benchmark(args, params):
    from .benchmark import run_benchmark
    run_benchmark(args, params)


def _overlay(args, params):
    from .infer.overlay import write_overlay
    given = {"preset": args.preset, "min_score": args.min_score}     # else overlay.py's defaults
    if args.run is not None:
        # what the run sees: its pose backend for videos, its preset's bones, its min score
        from .evaluate.run_record import run_bundle
        from .infer.inputs import bundle_preset, video_pose_settings
        if args.preset is not None:
            raise ValueError("--preset and --run: the run's preset is the one it was trained on; give one of them")
        bundle = run_bundle(args.run)
        given = {"pose_cfg": video_pose_settings(bundle["pose"]), "preset": bundle_preset(bundle),
                 "min_score": args.min_score if args.min_score is not None else bundle["keypoints"]["min_score"]}
    write_overlay(args.video, args.out, **{k: v for k, v in given.items() if v is not None})


def _predict(args, params):
    from .infer.predict import as_table, pose_note, predict, write_results
    from .infer.run import load_run
    run = load_run(args.run, args.device)
    results = predict(run, args.inputs, args.top_k)
    write_results(results, run, args.json, args.csv)
    log.info("%s; streams %s, %s rule", pose_note(run), ", ".join(run.streams), run.rule)
    sys.stdout.write(as_table(results) + "\n")
    failed = sum("error" in r for r in results)
    if failed:
        log.warning("%d of %d input(s) skipped (named above with the reason)", failed, len(results))
    if failed == len(results):
        raise ValueError("no input could be read")
    return 1 if failed else 0


def _evaluate(args, params):
    from .infer.evaluate import csv_clips, evaluate_clips, split_clips, summary
    from .infer.run import load_run
    from .io import write_json
    run = load_run(args.run, args.device)
    if args.csv is not None:
        clips, labels, names = csv_clips(run, args.csv)
    else:
        data = args.run if args.run.is_dir() else args.run.parent
        clips, labels, names = split_clips(run, args.keypoints or data / "keypoints",
                                           args.manifest or data / "manifest.parquet",
                                           args.classes or data / "classes.csv", args.split)
    report = evaluate_clips(run, clips, labels, names)
    if args.json is not None:
        write_json(args.json, report)
    sys.stdout.write(summary(report) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline",
                                     description="GSP-MC sign language recognition pipeline stages.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    from importlib.metadata import PackageNotFoundError, version
    try:
        installed = version("gspmc-pipeline")
    except PackageNotFoundError:                    # run from a checkout that is not installed
        installed = "unknown"
    parser.add_argument("--version", action="version", version=f"gspmc-pipeline {installed}")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")

    root_help = ("the dataset's folder, instead of datasets.<dataset>.root "
                 "(snakemake --config dataset_root=PATH passes it)")
    p = sub.add_parser("sources", help="the dataset's list files and video listing -> sources.json (what the "
                                       "manifest is read from)")
    p.add_argument("--out", type=Path, required=True, help="results/<dataset>/sources.json")
    p.add_argument("--root", help=root_help)
    p.set_defaults(func=_sources)

    p = sub.add_parser("manifest", help="dataset -> manifest.parquet, classes.csv (demo: + corpus, knowledge base)")
    p.add_argument("--out-dir", type=Path, required=True, help="results/<dataset>")
    p.add_argument("--root", help=root_help)
    p.set_defaults(func=_manifest)

    p = sub.add_parser("pose", help="manifest -> COCO-WholeBody-133 pose shards")
    p.add_argument("--manifest", type=Path, required=True)
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
    p.add_argument("--variant", required=True, choices=VARIANTS)
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
    p.add_argument("--stream", required=True, choices=STREAMS)
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
    p.add_argument("--run", type=Path, help="also write run.json here: the run bundle (streams, weights, rule) "
                   "that predict and evaluate load")
    p.set_defaults(func=_ensemble)

    p = sub.add_parser("tables", help="the paper's Tables 2-6, class-wise gains and confusions from results/")
    p.add_argument("--results", type=Path, required=True, help="the dataset's results folder, results/<dataset>")
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
    p.add_argument("--settings", nargs="+", help="run (and summarise) these of experiments.mc.settings only "
                   "(default: all); finished runs are reused, so a long experiment can run in parts")
    p.set_defaults(func=_experiment)

    p = sub.add_parser("zeroshot", help="hold classes out of training, recognise them from their description "
                       "texts -> results/<dataset>/zeroshot/metrics.{json,md} (params zeroshot)")
    p.add_argument("--keypoints", type=Path, required=True)
    p.add_argument("--manifest", type=Path, required=True)
    p.add_argument("--classes", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True, help="results/<dataset>/corpus.json: the demo's minimal "
                   "pairs, drawn into one class set together")
    p.add_argument("--text-dir", type=Path, required=True, help="results/<dataset>/text: <variant>.safetensors "
                   "for each of zeroshot.variants")
    p.add_argument("--out-dir", type=Path, required=True, help="results/<dataset>/zeroshot (training runs go to "
                   "its runs/draw<k>/<variant>/<stream>/)")
    p.set_defaults(func=_zeroshot)

    p = sub.add_parser("figures", help="the report's figures: each stream's training curves (log.csv) and the "
                       "ensemble's test confusion matrix (run.json's weights and rule) -> PNGs")
    p.add_argument("--run", type=Path, required=True, help="results/<dataset>/run.json (the ensemble stage's)")
    p.add_argument("--classes", type=Path, required=True, help="classes.csv (glosses on the axes)")
    p.add_argument("--out-dir", type=Path, required=True, help="results/<dataset>/figures")
    p.set_defaults(func=_figures, needs_params=False)

    p = sub.add_parser("page", help="a markdown report -> a standalone HTML page (what snakemake --report shows)")
    p.add_argument("--markdown", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the .html page")
    p.set_defaults(func=_page, needs_params=False)

    p = sub.add_parser("benchmark", help="training throughput and memory; describe cost; the demo DAG's time")
    p.add_argument("what", choices=["train", "describe", "dag", "pose", "rtmw-box", "clips",
                                           "copy-share", "kernels"])
    p.add_argument("--seeds", type=int, help="dag: run the whole DAG for seeds 0..N-1, report mean ± sd")
    p.add_argument("--descriptions", type=Path, help="copy-share: a describe jsonl (default: the dataset's gsp)")
    p.add_argument("--steps", type=int, default=4, help="train: timed steps per contender; clips: batches fed")
    p.add_argument("--config", choices=["demo", "paper", "both"], default="both",
                   help="train: the demo's encoder (params) or the paper's (V=87, T=64, 226 classes)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"], help="train: where to train")
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=["auto", "fp32", "bf16", "fp16"],
                   help="train: ours in each of these (the reference runs fp32)")
    p.add_argument("--batch", type=int, help="train: batch size (default: the config's; paper 16); clips: 120")
    p.add_argument("--feeder", action="store_true", help="train: also through the real data path (busy fraction, "
                   "projected SLR-500 recipe time)")
    p.add_argument("--memory", action="store_true", help="train, CPU: each model's peak RSS in its own process")
    p.add_argument("--json", type=Path, help="train, clips, dag --seeds, rtmw-box: also write the results here")
    p.add_argument("--compile", action="store_true", help="train: also ours with torch.compile (train.compile)")
    p.add_argument("--fused", default="auto", choices=["auto", "on", "off"],
                   help="train: where train.fused_graph_conv with this value is on (auto: a CUDA GPU with Triton), "
                   "ours in each precision both eager and with the fused Triton aggregation")
    p.add_argument("--public", type=Path, help="train, paper config: also the public CTR-GCN itself, from your "
                   "checkout's model/ctrgcn.py (never shipped or fetched: CC BY-NC 4.0)")
    p.add_argument("--archs", type=int, nargs="+", default=[80, 86, 89, 90],
                   help="kernels: CUDA compute capabilities to compile the fused kernels for (no GPU needed)")
    p.add_argument("--kernel-dtypes", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp16", "fp32", "tf32"],
                   help="kernels: the element types (tf32: fp32 with torch's allow_tf32)")
    p.add_argument("--video", type=Path, default=Path("../shared/fixtures/video/signing-person.mp4"),
                   help="pose: the video to time the backends on; rtmw-box: to measure the hands in")
    p.add_argument("--copies", type=int, default=8, help="pose: copies of the video for the parallel run")
    p.add_argument("--rounds", type=int, default=2, help="pose: interleaved rounds of the stage / bare timing")
    p.add_argument("--samples", type=int, default=125_000, help="clips: synthetic clips in the set")
    p.add_argument("--stores", nargs="+", default=["memory", "disk"], choices=["memory", "disk"],
                   help="clips: the train.clips.store values to measure, each in its own process")
    p.add_argument("--dir", type=Path, help="clips: where the synthetic set is written and reused "
                   "(default: a temporary folder, removed after)")
    p.set_defaults(func=_benchmark)

    p = sub.add_parser("overlay", help="a video with its 133 pose points and the preset's bones drawn on "
                       "(MediaPipe, the pipeline's defaults; needs no params.yaml)")
    p.add_argument("video", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True, help="the overlay video (.mp4)")
    p.add_argument("--preset", help="whose bones to draw (default: gspmc87)")
    p.add_argument("--run", type=Path, help="a trained run (results/<dataset> or a stream folder): its pose "
                   "backend, preset and min score")
    p.add_argument("--min-score", type=float, help="points below this score are not drawn; "
                   "the others fade with their score (default: 0.05)")
    p.set_defaults(func=_overlay, needs_params=False)

    p = sub.add_parser("predict", help="top-k glosses of videos or keypoint files with a trained run "
                       "(its own pose backend, preset, streams and ensemble; needs no params.yaml)")
    p.add_argument("inputs", nargs="+", type=Path, help="videos, folders of them, or keypoint files: SAM-SLR .npy, "
                   ".pose (MediaPipe Holistic), pose or keypoint parquet shards")
    p.add_argument("--run", type=Path, required=True, help="results/<dataset> (its run.json) or one stream's folder")
    p.add_argument("-k", "--top-k", type=int, default=5)
    p.add_argument("--json", type=Path, help="also write the answers as JSON here")
    p.add_argument("--csv", type=Path, help="also write the answers as CSV here (one row per rank)")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=_predict, needs_params=False)

    p = sub.add_parser("evaluate", help="a trained run on a labelled split: accuracy, top-5, per-class accuracy, "
                       "confusion matrix (from its bundles; needs no params.yaml)")
    p.add_argument("--run", type=Path, required=True, help="results/<dataset> (its run.json) or one stream's folder")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--keypoints", type=Path, help="keypoint shards (default: <run>/keypoints)")
    p.add_argument("--manifest", type=Path, help="default: <run>/manifest.parquet")
    p.add_argument("--classes", type=Path, help="default: <run>/classes.csv")
    p.add_argument("--csv", type=Path, help="instead of a split: a CSV with columns path,gloss (videos or "
                   "keypoint files, paths relative to the CSV)")
    p.add_argument("--json", type=Path, help="write the full report (per class, confusion matrix) here")
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=_evaluate, needs_params=False)
    return parser


def _stage_view(args, params: dict | None):
    """A DAG stage reads only the params its outputs are declared to depend on (params_view.py);
    the other commands (benchmarks, experiments, predict) get params as they are."""
    if params is None or args.stage not in STAGE_PARAMS:
        return params
    keys = stage_params(args.stage, preset=args.stage == "keypoints" and args.preset is not None,
                        ablation=getattr(args, "ablation", None))
    return declared_view(params, keys, args.stage)


def _stop_on_sigterm() -> None:
    """SIGTERM (snakemake stopping its jobs, a cluster's scancel, `kill`) ends the stage as an
    exception does: every temporary file and folder of the atomic writes is removed on the way
    out (pipeline/io.py) instead of staying behind (issue 28)."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _stop_on_sigterm()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        # predict, evaluate and overlay use a trained run's bundles, never params.yaml
        params = load_params(args.params) if getattr(args, "needs_params", True) else None
        if params is not None:          # a DAG stage: snakemake's or DVC's, never both at once
            check_one_runner()
        return args.func(args, _stage_view(args, params)) or 0
    except (ParamsError, ValueError, LookupError, FileNotFoundError, RuntimeError) as exc:
        log.error("%s failed: %s", args.stage, exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return 2
