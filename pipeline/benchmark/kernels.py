"""`python -m pipeline benchmark kernels`: what the fused CTR-GC kernels ask of a GPU, found
without one. Triton compiles a kernel ahead of time for any CUDA architecture (its wheel ships
ptxas), so on this CPU machine each kernel, at the tiles ``fused_aggregate.tiles_for`` launches
it with, is compiled for sm_80 (A100), sm_86/sm_89 (consumer Ampere/Ada, 99 KB of shared memory
per block) and sm_90 (H100/H200), and ptxas reports its registers per thread and the bytes it
spills to local memory.

Two things a launch on a GPU would show only as an error or a slowdown: shared memory above the
architecture's per-block limit fails the launch (OutOfResources), and spilled registers go
through the cache hierarchy, the memory traffic the fused kernels exist to remove. The tiles are
chosen to do neither (tests/test_fused_aggregate.py holds them to it); how fast they are is the
GPU benchmark's to say (envs/bench-gpu.sh).
"""
from __future__ import annotations

import itertools
import os
import re
import subprocess
import tempfile

# the most shared memory one block may use (opt-in), bytes, per compute capability: the CUDA C++
# Programming Guide's table (163 KB, 99 KB, 227 KB); 100 and 120 compile with Triton's
# Blackwell ptxas
SHARED_MEMORY_PER_BLOCK = {80: 166_912, 86: 101_376, 89: 101_376, 90: 232_448, 100: 232_448, 120: 101_376}
# the element types the kernels run in: Triton's pointer type, the matmul precision torch's
# settings give them (fused_aggregate._precision) and the element size their tiles are looked up
# by (fused_aggregate.TILES): bf16/fp16 autocast, fp32 IEEE, fp32 with TF32
DTYPES = {"bf16": ("bf16", "tf32", 2), "fp16": ("fp16", "tf32", 2), "fp32": ("fp32", "ieee", 4),
          "tf32": ("fp32", "tf32", 4)}
# the paper's encoder: T 64, 32, 16 (strides at units 5 and 8) and K 8, 16, 32 (in_channels / 8)
PAPER_FRAMES = (64, 32, 16)
PAPER_RELATIONS = (8, 16, 32)
_INTEGERS = {"S", "C", "T", "V", "K"}
_FP32_POINTERS = {"w_ptr", "gw_part_ptr"}     # the weight stays fp32 under autocast; grad_weight's parts are fp32


def _signature(fn, element: str) -> dict[str, str]:
    return {name: ("*fp32" if name in _FP32_POINTERS else f"*{element}") if name.endswith("_ptr")
            else "i32" if name in _INTEGERS else "constexpr" for name in fn.arg_names}


def compiled_resources(kernel: str, dtype: str, capability: int, T: int, K: int) -> dict:
    """Compile ``kernel`` (a name in ctrgc_kernels) for sm_<capability> at the tiles
    ``tiles_for`` gives (T, K, dtype); its shared memory (Triton's metadata), registers per
    thread and spill stores (ptxas -v, with the flags Triton's own ptxas call uses)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability
    from triton.compiler import ASTSource

    from ..model import ctrgc_kernels
    from ..model.fused_aggregate import tiles_for
    element, precision, itemsize = DTYPES[dtype]
    fn = getattr(ctrgc_kernels, kernel)
    tiles = tiles_for(kernel, T, K, itemsize)
    constants = {**tiles.blocks, "PRECISION": precision, "UPCAST": False}
    source = ASTSource(fn, _signature(fn, element), constexprs=constants)
    with tempfile.TemporaryDirectory(prefix="gspmc-kernels-") as tmp:
        binary = triton.compile(source, target=GPUTarget("cuda", capability, 32), options=tiles.options)
        ptx = os.path.join(tmp, "kernel.ptx")
        with open(ptx, "w") as f:
            f.write(binary.asm["ptx"])
        ptxas = get_ptxas(capability)
        ptxas = getattr(ptxas, "path", None) or ptxas[0]     # Triton < 3.4 returned (path, version)
        report = subprocess.run([ptxas, "-lineinfo", "-v", "--regAllocOptLevel=2",
                                 f"--gpu-name={sm_arch_from_capability(capability)}", ptx, "-o", os.devnull],
                                capture_output=True, text=True, check=True).stderr
    registers = re.search(r"Used (\d+) registers", report)
    spills = re.search(r"(\d+) bytes spill stores", report)
    if registers is None or spills is None:
        raise RuntimeError(f"ptxas -v for {kernel} on sm_{capability}: no register or spill line in {report!r}")
    shared, limit, spill_bytes = int(binary.metadata.shared), SHARED_MEMORY_PER_BLOCK[capability], int(spills.group(1))
    return {"kernel": kernel, "dtype": dtype, "arch": f"sm_{capability}", "T": T, "K": K, **tiles.blocks,
            **tiles.options, "shared": shared, "shared_limit": limit, "registers": int(registers.group(1)),
            "spill_bytes": spill_bytes, "fits": shared <= limit and spill_bytes == 0}


def shipped_tile_report(capabilities=(80, 86, 89, 90), dtypes=("bf16", "fp32"),
                        frames=PAPER_FRAMES, relations=PAPER_RELATIONS) -> list[dict]:
    """``compiled_resources`` of every kernel at every distinct tile the shipped table gives the
    paper's encoder, per architecture and dtype (T and K beyond the tiles' caps compile alike)."""
    from ..model.ctrgc_kernels import KERNELS
    from ..model.fused_aggregate import tiles_for
    unknown = sorted(set(capabilities) - set(SHARED_MEMORY_PER_BLOCK))
    if unknown:
        raise ValueError(f"benchmark kernels: no shared-memory limit known for compute capability {unknown[0]} "
                         f"(known: {', '.join(map(str, SHARED_MEMORY_PER_BLOCK))})")
    rows, seen = [], set()
    for capability, dtype, kernel, T, K in itertools.product(capabilities, dtypes, KERNELS, frames, relations):
        key = (capability, dtype, kernel, tiles_for(kernel, T, K, DTYPES[dtype][2]))
        if key not in seen:
            seen.add(key)
            rows.append(compiled_resources(kernel, dtype, capability, T, K))
    return rows


def as_table(rows: list[dict]) -> str:
    head = f"{'kernel':24s} {'dtype':5s} {'arch':6s} {'BK':>3s} {'tiles (BC BT BV BU)':>20s} {'warps':>5s} " \
           f"{'stages':>6s} {'shared KB':>9s} {'limit':>6s} {'regs':>4s} {'spill B':>7s}  fits"
    lines = [head]
    for r in rows:
        lines.append(f"{r['kernel']:24s} {r['dtype']:5s} {r['arch']:6s} {r['BK']:3d} "
                     f"{'%d %d %d %d' % (r['BC'], r['BT'], r['BV'], r['BU']):>20s} {r['num_warps']:5d} "
                     f"{r['num_stages']:6d} {r['shared'] / 1024:9.1f} {r['shared_limit'] / 1024:6.0f} "
                     f"{r['registers']:4d} {r['spill_bytes']:7d}  {'yes' if r['fits'] else 'NO'}")
    return "\n".join(lines)
