"""The fused CTR-GC aggregation (model/fused_aggregate.py, Triton) against the eager one it
replaces: values and gradients, fp32 and bf16, on the CPU under Triton's interpreter (a
subprocess: TRITON_INTERPRET is read when the kernels are defined) and on a GPU when one is
here. The eager path is the oracle, computed in float64 from the same inputs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pipeline.model import fused_aggregate as fused_module
from pipeline.model.aggregate import whole_batch_aggregate
from pipeline.model.fused_aggregate import fused_aggregate, tiles_for
from pipeline.train.accel import resolve_fused_graph_conv

triton = pytest.importorskip("triton")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _inputs(shape: tuple[int, ...], dtype: torch.dtype, device: str, seed: int = 0):
    N, S, C, T, V, K = shape
    g = torch.Generator().manual_seed(seed)
    x3 = torch.randn(N, S, C, T, V, generator=g)
    weight = torch.randn(S, C, K, generator=g)
    rel = torch.randn(N, S, K, V * V, generator=g).tanh()
    grad_y = torch.randn(N, C, T, V, generator=g)
    # the weight stays fp32, as under autocast (a product of parameters); x3 and rel low precision
    return (x3.to(device, dtype), weight.to(device), rel.to(device, dtype)), grad_y.to(device, dtype)


def _outputs(fn, inputs, grad_y):
    leaves = [t.detach().requires_grad_() for t in inputs]
    y = fn(*leaves)
    return [y, *torch.autograd.grad(y, leaves, grad_y)]


def _error(a: torch.Tensor, exact: torch.Tensor) -> float:
    return float((a.double() - exact).abs().max() / exact.abs().max())


def errors(shape: tuple[int, ...], precision: str, device: str) -> dict:
    """Largest error relative to the largest value, of y and each gradient: the fused op's and
    the eager aggregation's in the same precision, both against the eager one in float64 (of
    the same, already rounded, inputs; bf16 rounds the weight as autocast's matmul does)."""
    dtype = DTYPES[precision]
    inputs, grad_y = _inputs(shape, dtype, device)
    exact = _outputs(whole_batch_aggregate, [t.detach().double() for t in inputs], grad_y.double())
    fused = _outputs(fused_aggregate, inputs, grad_y)
    again = _outputs(fused_aggregate, inputs, grad_y)
    eager = _outputs(lambda x3, w, rel: whole_batch_aggregate(x3, w.to(dtype), rel), inputs, grad_y)
    names = ("y", "grad_x3", "grad_weight", "grad_rel")
    return {"fused": dict(zip(names, map(_error, fused, exact))),
            "eager": dict(zip(names, map(_error, eager, exact))),
            "dtypes": [str(t.dtype) for t in fused], "input_dtypes": [str(t.dtype) for t in inputs],
            "repeats": all(torch.equal(a, b) for a, b in zip(fused, again))}


def interpreted(cases: list[tuple[tuple[int, ...], str]]) -> list[dict]:
    """``errors`` of each (shape, precision) on the CPU, in one fresh process with
    TRITON_INTERPRET=1 (most of a case's time is importing torch and Triton)."""
    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_fused_aggregate as t; "
            f"print(json.dumps([t.errors(shape, precision, 'cpu') for shape, precision in {cases!r}]))")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


# Triton 3.7's interpreter rounds fp32 -> bf16 toward zero, not to nearest (off from torch's
# cast by up to one bf16 ulp, even with fp_downcast_rounding="rtne": measured), so under it the
# bf16 bound is four bf16 ulps of the largest value; on a GPU, twice the eager bf16 error
BF16_INTERPRETED = 4 * 2 ** -8


def check(result: dict, precision: str, interpreted: bool = True) -> None:
    assert result["repeats"], "two calls of the fused op differ"
    assert result["dtypes"][:2] == result["input_dtypes"][:1] * 2           # y and grad_x3 in x3's dtype
    assert result["dtypes"][2:] == result["input_dtypes"][1:]               # each gradient its input's
    for name, err in result["fused"].items():
        if precision == "fp32":
            assert err < 1e-5, (name, err)
        else:   # rounding to bf16 as the eager bf16 path rounds: no more than twice its error
            bound = 2 * result["eager"][name] + 1e-3
            assert err <= (max(bound, BF16_INTERPRETED) if interpreted else bound), (name, err, result["eager"][name])


# (N, S, C, T, V, K): channel, frame and joint counts that fill no block exactly, relation
# channels as the first unit's (8 + 2) and as a 256-channel unit's (32 + 2)
SMALL = [(2, 3, 20, 12, 21, 10), (1, 3, 17, 16, 30, 34)]
# the paper's 87 joints and two blocks of frames and of channels
PAPER_JOINTS = (1, 3, 20, 40, 87, 10)


def test_the_fused_aggregation_equals_the_eager_one_under_the_interpreter():
    cases = [(shape, precision) for shape in SMALL for precision in DTYPES]
    for (shape, precision), result in zip(cases, interpreted(cases)):
        try:
            check(result, precision)
        except AssertionError as exc:
            raise AssertionError(f"{shape} {precision}: {exc}") from exc


@pytest.mark.slow
def test_the_fused_aggregation_at_87_joints_under_the_interpreter():
    """Every dimension over several blocks (the dtypes' own paths are the small cases')."""
    check(interpreted([(PAPER_JOINTS, "fp32")])[0], "fp32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("shape", [*SMALL, PAPER_JOINTS, (4, 3, 256, 16, 87, 34), (4, 3, 64, 64, 87, 10)])
def test_the_fused_aggregation_equals_the_eager_one_on_the_gpu(shape, precision):
    check(errors(shape, precision, "cuda"), precision, interpreted=False)


@pytest.mark.slow
def test_the_fused_model_trains_as_the_eager_one_under_the_interpreter():
    """A small CTR-GCN with use_fused_graph_conv on and off: same logits and gradients."""
    code = f"""
import sys, torch
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pipeline.model.ctrgcn import CTRGCN, use_fused_graph_conv
from test_fused_aggregate import adjacency
torch.manual_seed(0)
model = CTRGCN(5, adjacency(20), base_channels=16, num_units=2, stride_units=[2])
x, y = torch.randn(2, 3, 12, 20), torch.tensor([1, 3])
out = []
for on in (False, True):
    use_fused_graph_conv(model, on)
    model.zero_grad()
    logits = model(x)
    torch.nn.functional.cross_entropy(logits, y).backward()
    out.append([logits.detach()] + [p.grad.clone() for p in model.parameters()])
worst = max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)) for a, b in zip(*out))
print(worst)
"""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert float(out.stdout.split()[-1]) < 1e-4


def adjacency(V: int) -> np.ndarray:
    """A chain of V joints as the three subsets (identity, inward, outward)."""
    from pipeline.model.graph import spatial_adjacency
    return spatial_adjacency([(k, k - 1) for k in range(1, V)], V)


def test_fused_graph_conv_is_eager_on_the_cpu_and_on_refuses_to_start_without_cuda(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    cpu = torch.device("cpu")
    assert resolve_fused_graph_conv("auto", cpu) is False
    assert resolve_fused_graph_conv("off", cpu) is False
    with pytest.raises(ValueError, match="fused_graph_conv on: needs a CUDA device"):
        resolve_fused_graph_conv("on", cpu)
    with pytest.raises(ValueError, match="not one of auto, on, off"):
        resolve_fused_graph_conv("yes", cpu)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert resolve_fused_graph_conv("on", cpu) is True


def test_tiles_cap_frames_at_the_clip_and_grad_relations_holds_all_relation_channels():
    assert tiles_for("forward_kernel", 64, 8, 2).BK == 16           # the adjacency 16 relation channels a step
    assert tiles_for("grad_x3_kernel", 64, 32, 4).BK == 16
    assert tiles_for("grad_x3_kernel", 12, 8, 2).BT == 16           # 12 frames: one block of 16
    assert tiles_for("grad_x3_kernel", 64, 8, 2).BT == 32
    assert tiles_for("grad_relations_kernel", 64, 8, 2).BK == 32     # padded to its least
    assert tiles_for("grad_relations_kernel", 64, 34, 2).BK == 64    # all of K
    assert tiles_for("grad_relations_kernel", 64, 8, 4).BK == 32


@pytest.mark.slow
def test_the_shipped_tiles_compile_without_spills_within_shared_memory(monkeypatch, tmp_path):
    """Compiled ahead of time, no GPU: sm_90 (the H100/H200 the benchmark targets) and sm_86
    (99 KB of shared memory per block, the least of the four) in bf16, sm_86 in fp32, sm_90 in
    fp32 with TF32 (torch's allow_tf32)."""
    from pipeline.benchmark.kernels import shipped_tile_report
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))         # compiled, not read from a cache
    rows = [*shipped_tile_report((90, 86), ("bf16",)), *shipped_tile_report((86,), ("fp32",)),
            *shipped_tile_report((90,), ("tf32",))]
    assert len(rows) == 18
    bad = [(r["kernel"], r["dtype"], r["arch"], r["BT"], r["BK"], r["spill_bytes"], r["shared"]) for r in rows
           if not r["fits"]]
    assert not bad, bad


@pytest.mark.slow
def test_the_kernel_report_names_tiles_that_spill(monkeypatch, tmp_path):
    """The tiles this module shipped before the report: 4 warps over a 16 x 32 x 32 tile spill."""
    from pipeline.benchmark.kernels import compiled_resources
    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(fused_module.TILES, ("forward_kernel", 2), (16, 32, 16, 32, 16, 4, 3))
    row = compiled_resources("forward_kernel", "bf16", 90, 64, 8)
    assert row["spill_bytes"] > 0 and not row["fits"] and row["num_warps"] == 4
