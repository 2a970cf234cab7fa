"""The Triton kernels of the fused CTR-GC aggregation (``fused_aggregate.py`` says what each
computes and why). A module of its own because it imports Triton, and Triton decides at
decoration time whether a kernel runs compiled or in its interpreter (TRITON_INTERPRET=1):
``fused_aggregate`` imports it on first use only."""
import triton
import triton.language as tl

# the kernels, each launched by fused_aggregate with its own tiles (fused_aggregate.TILES)
KERNELS = ("forward_kernel", "grad_x3_kernel", "grad_relations_kernel")


@triton.jit
def mma(a, b, acc, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """tl.dot, with bf16/fp16 operands widened to fp32 first under ``UPCAST`` (Triton's
    interpreter multiplies bf16 wrongly; the widened product is exact, as the tensor cores'
    is, and both sum in fp32)."""
    if UPCAST:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    return tl.dot(a, b, acc, input_precision=PRECISION)


@triton.jit
def relations_at(ptr, row, offs_k, offs_v, offs_u, K, V):
    """Pointers and mask of the (BK, BV, BU) tile [row, k, v, u] of a (rows, K, V, V) tensor."""
    ptrs = ptr + ((row * K + offs_k[:, None, None]) * V + offs_v[None, :, None]) * V + offs_u[None, None, :]
    mask = (offs_k[:, None, None] < K) & (offs_v[None, :, None] < V) & (offs_u[None, None, :] < V)
    return ptrs, mask


@triton.jit
def load_relations(ptr, row, offs_k, offs_v, offs_u, K, V):
    ptrs, mask = relations_at(ptr, row, offs_k, offs_v, offs_u, K, V)
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def load_weight(w_ptr, s, offs_c, offs_k, C, K, dtype: tl.constexpr):
    """weight[s, c, k] for a block of channels, (BC, BK), cast to ``dtype`` (rel's)."""
    w = tl.load(w_ptr + (s * C + offs_c[:, None]) * K + offs_k[None, :],
                mask=(offs_c[:, None] < C) & (offs_k[None, :] < K), other=0.0)
    return w.to(dtype)


@triton.jit
def adjacency_tile(w_ptr, s, offs_c, C, rel_ptr, row, offs_v, offs_u, K, V,
                   BK: tl.constexpr, BC: tl.constexpr, BV: tl.constexpr, BU: tl.constexpr,
                   PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """A[c, v, u] for a block of channels: weight[s] (BC, K) @ rel[row] tile (K, BV * BU),
    fp32, BK relation channels at a time (the (BK, BV, BU) tile of rel and its pointers are
    what fills the registers: a whole K of 32 spills them)."""
    a = tl.zeros((BC, BV * BU), dtype=tl.float32)
    for k0 in range(0, K, BK):
        offs_k = k0 + tl.arange(0, BK)
        w = load_weight(w_ptr, s, offs_c, offs_k, C, K, rel_ptr.dtype.element_ty)
        r = load_relations(rel_ptr, row, offs_k, offs_v, offs_u, K, V)
        a = mma(w, tl.reshape(r, (BK, BV * BU)), a, PRECISION, UPCAST)
    return tl.reshape(a, (BC, BV, BU))


@triton.jit
def frames_at(ptr, row, offs_c, offs_t, offs_j, C, T, V):
    """Pointers and mask of the (BC, BT, BJ) tile [row + c, t, j] of a (rows, T, V) tensor."""
    ptrs = ptr + ((row + offs_c[:, None, None]) * T + offs_t[None, :, None]) * V + offs_j[None, None, :]
    mask = (offs_c[:, None, None] < C) & (offs_t[None, :, None] < T) & (offs_j[None, None, :] < V)
    return ptrs, mask


@triton.jit
def load_frames(ptr, row, offs_c, offs_t, offs_j, C, T, V):
    ptrs, mask = frames_at(ptr, row, offs_c, offs_t, offs_j, C, T, V)
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def store_frames(ptr, row, offs_c, offs_t, offs_j, C, T, V, value):
    ptrs, mask = frames_at(ptr, row, offs_c, offs_t, offs_j, C, T, V)
    tl.store(ptrs, value.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def tile_offsets(T, BC: tl.constexpr, BT: tl.constexpr, BJ: tl.constexpr):
    """The grid of the forward and grad_x3 kernels: axis 0 a block of joints times a block of
    frames, axis 1 a block of channels, axis 2 the row (a sample, or a sample and subset).
    Axis 0 is dispatched fastest, so the programs of one row, which read the same relation
    maps and weights, run side by side and share them in L2. Returns the row and the channel,
    joint and frame offsets of this program's tile."""
    frame_blocks = tl.cdiv(T, BT)
    offs_c = tl.program_id(1) * BC + tl.arange(0, BC)
    offs_j = (tl.program_id(0) // frame_blocks) * BJ + tl.arange(0, BJ)
    offs_t = (tl.program_id(0) % frame_blocks) * BT + tl.arange(0, BT)
    return tl.program_id(2), offs_c, offs_j, offs_t


@triton.jit
def forward_kernel(x3_ptr, w_ptr, rel_ptr, y_ptr, S, C, T, V, K,
                   BC: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr, BU: tl.constexpr,
                   BK: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """y[n, c, t, u] = sum_s sum_v x3[n, s, c, t, v] A[n, s, c, v, u] for one tile of y."""
    n, offs_c, offs_u, offs_t = tile_offsets(T, BC, BT, BU)
    acc = tl.zeros((BC, BT, BU), dtype=tl.float32)
    for s in range(S):
        for v0 in range(0, V, BV):
            offs_v = v0 + tl.arange(0, BV)
            a = adjacency_tile(w_ptr, s, offs_c, C, rel_ptr, n * S + s, offs_v, offs_u, K, V,
                               BK, BC, BV, BU, PRECISION, UPCAST)
            x = load_frames(x3_ptr, (n * S + s) * C, offs_c, offs_t, offs_v, C, T, V)
            acc = mma(x, a.to(x.dtype), acc, PRECISION, UPCAST)
    store_frames(y_ptr, n * C, offs_c, offs_t, offs_u, C, T, V, acc)


@triton.jit
def grad_x3_kernel(gy_ptr, w_ptr, rel_ptr, gx3_ptr, S, C, T, V, K,
                   BC: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr, BU: tl.constexpr,
                   BK: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """grad_x3[n, s, c, t, v] = sum_u grad_y[n, c, t, u] A[n, s, c, v, u] for one tile."""
    ns, offs_c, offs_v, offs_t = tile_offsets(T, BC, BT, BV)
    n, s = ns // S, ns % S
    acc = tl.zeros((BC, BT, BV), dtype=tl.float32)
    for u0 in range(0, V, BU):
        offs_u = u0 + tl.arange(0, BU)
        a = adjacency_tile(w_ptr, s, offs_c, C, rel_ptr, ns, offs_v, offs_u, K, V, BK, BC, BV, BU,
                           PRECISION, UPCAST)
        g = load_frames(gy_ptr, n * C, offs_c, offs_t, offs_u, C, T, V)
        acc = mma(g, tl.permute(a.to(g.dtype), (0, 2, 1)), acc, PRECISION, UPCAST)
    store_frames(gx3_ptr, ns * C, offs_c, offs_t, offs_v, C, T, V, acc)


@triton.jit
def grad_relations_kernel(gy_ptr, x3_ptr, w_ptr, rel_ptr, grel_ptr, gw_part_ptr, S, C, T, V, K,
                          BC: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr, BU: tl.constexpr,
                          BK: tl.constexpr, PRECISION: tl.constexpr, UPCAST: tl.constexpr):
    """Per (sample, subset, v-block, u-block): the adjacency's gradient G = x3^T @ grad_y for
    each channel block, then grad_rel tile = sum over channel blocks of weight^T @ G, and
    this tile's part of grad_weight, G @ rel^T (summed over tiles and samples by torch)."""
    ub, vb, ns = tl.program_id(0), tl.program_id(1), tl.program_id(2)   # a row's tiles side by side
    n, s = ns // S, ns % S
    offs_v = vb * BV + tl.arange(0, BV)
    offs_u = ub * BU + tl.arange(0, BU)
    offs_k = tl.arange(0, BK)
    r = tl.reshape(load_relations(rel_ptr, ns, offs_k, offs_v, offs_u, K, V), (BK, BV * BU))
    grel = tl.zeros((BK, BV * BU), dtype=tl.float32)
    tile = vb * tl.num_programs(0) + ub
    for c0 in range(0, C, BC):
        offs_c = c0 + tl.arange(0, BC)
        g_adj = tl.zeros((BC, BV, BU), dtype=tl.float32)
        for t0 in range(0, T, BT):
            offs_t = t0 + tl.arange(0, BT)
            xt = tl.permute(load_frames(x3_ptr, ns * C, offs_c, offs_t, offs_v, C, T, V), (0, 2, 1))  # (BC, BV, BT)
            g = load_frames(gy_ptr, n * C, offs_c, offs_t, offs_u, C, T, V)                           # (BC, BT, BU)
            g_adj = mma(xt, g.to(xt.dtype), g_adj, PRECISION, UPCAST)
        g_flat = tl.reshape(g_adj, (BC, BV * BU)).to(r.dtype)
        w = load_weight(w_ptr, s, offs_c, offs_k, C, K, r.dtype)
        grel = mma(tl.trans(w), g_flat, grel, PRECISION, UPCAST)
        gw = mma(g_flat, tl.trans(r), None, PRECISION, UPCAST)                # (BC, BK)
        tl.store(gw_part_ptr + ((ns * tl.num_programs(0) * tl.num_programs(1) + tile) * C + offs_c[:, None]) * K
                 + offs_k[None, :], gw, mask=(offs_c[:, None] < C) & (offs_k[None, :] < K))
    ptrs, mask = relations_at(grel_ptr, ns, offs_k, offs_v, offs_u, K, V)
    tl.store(ptrs, tl.reshape(grel, (BK, BV, BU)).to(grel_ptr.dtype.element_ty), mask=mask)
