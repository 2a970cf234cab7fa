"""`benchmark train` (pipeline.benchmark.train.py) on a tiny shape: both models in one
process with the same parameters and weights, every contender timed, the data path run."""
import subprocess
import sys

import pytest
import torch

from pipeline.benchmark.train import (
    contenders,
    measure_feeder,
    measure_interleaved,
    paired_ratio,
    recipe_hours,
    train_flops_per_sample,
)
from pipeline.model.ctrgcn import CTRGraphConv

TINY = {"model": {"base_channels": 8, "num_units": 2, "stride_units": [2], "temporal_kernel": 3,
                  "dilations": [1, 2], "dropout": 0.0},
        "num_points": 87, "window": 8, "batch_size": 4, "num_class": 5}


def test_the_reference_starts_from_our_weights_and_computes_our_function():
    racers = contenders(TINY, torch.device("cpu"), ["fp32"], with_mc=False)
    reference, ours = (r.model.eval() for r in racers)
    x = torch.randn(2, 3, TINY["window"], TINY["num_points"])
    torch.testing.assert_close(reference(x), ours(x), rtol=1e-4, atol=1e-5)


def test_every_contender_is_timed_and_the_counts_are_real():
    r = measure_interleaved(TINY, steps=1, threads=1, precisions=("fp32", "bf16"))
    assert set(r["samples_per_s"]) == {"reference", "ours fp32", "ours bf16", "ours fp32 CE+MC"}
    assert all(rate > 0 for rate in r["samples_per_s"].values())
    assert r["parameters"]["reference"] == r["parameters"]["ours"]
    saved = r["saved_for_backward_mib"]
    assert saved["ours bf16"] < saved["ours fp32"]          # bf16 activations take half the bytes
    assert train_flops_per_sample(TINY) > 0


def test_the_feeder_path_reports_where_the_time_went():
    f = measure_feeder(TINY, steps=2, threads=1, device_name="cpu", precision="fp32")
    assert f["samples_per_s"] > 0 and 0 <= f["data_wait_fraction"] <= 1 and 0 < f["busy_fraction"] <= 1.01
    assert f["recipe_hours"] == {}            # no paper recipe trains at batch 4


def test_a_rate_projects_only_the_recipes_of_its_batch():
    assert recipe_hours(1000.0, 120) == {"slr500": 87_500 * 110 / 1000 / 3600}
    assert recipe_hours(1000.0, 80) == {"autsl": 28_142 * 110 / 1000 / 3600}
    assert recipe_hours(1000.0, 16) == {}


def test_the_paired_ratio_is_the_geometric_mean_of_the_rounds_with_its_interval():
    q = paired_ratio([1.0, 2.0, 4.0], [1.1, 2.2, 4.4])         # 10 % faster in every round
    assert q["ratio"] == pytest.approx(1.1) and q["low"] == pytest.approx(1.1) and q["rounds"] == 3
    q = paired_ratio([1.0, 1.0, 1.0, 1.0], [1.2, 0.9, 1.1, 0.8])
    assert q["low"] < 1 < q["high"]


def test_fused_contenders_run_ours_with_the_fused_aggregation_and_the_rest_eager():
    racers = contenders(TINY, torch.device("cpu"), ["fp32", "bf16"], with_mc=True, fused=(False, True))
    names = [r.name for r in racers]
    assert names == ["reference", "ours fp32", "ours fp32 fused", "ours bf16", "ours bf16 fused", "ours fp32 CE+MC"]
    for r in racers:
        flags = {m.fused for m in r.model.modules() if isinstance(m, CTRGraphConv)}
        assert flags == ({True} if r.name.endswith("fused") else ({False} if r.name != "reference" else set()))


@pytest.mark.slow
def test_peak_rss_is_the_childs_own():
    """A child started from this (big) test process reports its own high-water mark."""
    import json
    out = subprocess.run([sys.executable, "-m", "pipeline.benchmark.train", json.dumps(TINY), "ours", "1", "1"],
                         check=True, capture_output=True, text=True).stdout
    assert 100 < float(out.strip().splitlines()[-1]) < 2000


@pytest.mark.slow
def test_the_clips_benchmark_measures_each_store_in_its_own_process(tmp_path):
    from pipeline.benchmark.clips import run_clips_benchmark

    results = run_clips_benchmark(tmp_path, 40, ["memory", "disk"], 2, 8)
    assert [r["store"] for r in results] == ["memory", "disk"]
    for r in results:
        assert r["clips"] == {"train": 28, "test": 12}
        assert r["peak_rss_mib"] > 50 and r["samples_per_s"] > 0
    # the set is written once and reused
    stamp = (tmp_path / "manifest.parquet").stat().st_mtime_ns
    run_clips_benchmark(tmp_path, 40, ["disk"], 1, 8)
    assert (tmp_path / "manifest.parquet").stat().st_mtime_ns == stamp


# The public CTR-GCN's model/ctrgcn.py is not ours to ship (CC BY-NC 4.0): this stand-in has its
# interface only (Model(num_class, num_point, num_person, graph, graph_args, in_channels, ...),
# a dotted graph class imported by name, (N, C, T, V, M) in), so the test checks our wiring.
PUBLIC_INTERFACE = '''
import torch.nn as nn

def import_class(name):
    components = name.split('.')
    mod = __import__(components[0])
    for comp in components[1:]:
        mod = getattr(mod, comp)
    return mod

class Model(nn.Module):
    def __init__(self, num_class=60, num_point=25, num_person=2, graph=None, graph_args=dict(), in_channels=3,
                 drop_out=0, adaptive=True):
        super().__init__()
        self.A = import_class(graph)(**graph_args).A
        self.fc = nn.Linear(in_channels * num_point, num_class)

    def forward(self, x):
        N, C, T, V, M = x.size()
        return self.fc(x.mean(2).permute(0, 3, 1, 2).reshape(N * M, C * V)).view(N, M, -1).mean(1)
'''


def test_the_public_model_is_loaded_from_a_checkout_on_our_graph_and_timed(tmp_path):
    from pipeline.benchmark.public import PUBLIC_SHAPE, load_public
    from pipeline.data.wholebody import get_preset
    from pipeline.model.graph import spatial_adjacency
    (tmp_path / "ctrgcn.py").write_text(PUBLIC_INTERFACE)
    preset = get_preset("gspmc87")
    public = load_public(tmp_path / "ctrgcn.py", 5, preset.edges, 87)
    assert (public.model.A == spatial_adjacency(preset.edges, 87)).all()
    assert public(torch.randn(2, 3, 8, 87)).shape == (2, 5)
    paper = {**TINY, "model": {**PUBLIC_SHAPE, "dropout": 0.0}, "window": 16, "batch_size": 2}
    r = measure_interleaved(paper, steps=1, threads=1, precisions=("fp32", "bf16"), with_mc=False,
                            public=tmp_path / "ctrgcn.py")
    assert {"public fp32", "public bf16"} <= set(r["samples_per_s"]) and r["parameters"]["public"] == 87 * 3 * 5 + 5
    assert r["reference_vs_public"]["rounds"] == 1 and r["reference_vs_public"]["ratio"] > 0
    with pytest.raises(ValueError, match="use --config paper"):
        measure_interleaved(TINY, steps=1, threads=1, public=tmp_path / "ctrgcn.py")
    (tmp_path / "other.py").write_text("class Model:\n    def __init__(self, x):\n        pass\n")
    with pytest.raises(ValueError, match="not the public CTR-GCN's"):
        load_public(tmp_path / "other.py", 5, preset.edges, 87)
    with pytest.raises(FileNotFoundError, match="CC BY-NC 4.0"):
        load_public(tmp_path / "missing.py", 5, preset.edges, 87)
