import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from pipeline.data.wholebody import get_preset
from pipeline.model.ctrgcn import CTRGCN, CTRGraphConv, MultiScaleTemporalConv, count_parameters
from pipeline.model.graph import spatial_adjacency

# The NTU RGB+D 25-joint graph of the public CTR-GCN (1-based pairs).
NTU_EDGES = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
             (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
             (22, 23), (23, 8), (24, 25), (25, 12)]


def test_parameter_count_matches_the_public_model():
    A = spatial_adjacency([(i - 1, j - 1) for i, j in NTU_EDGES], 25)
    ntu = CTRGCN(60, A, num_person=2)
    assert 1.44e6 < count_parameters(ntu) < 1.46e6        # public: 1.45 M
    p = get_preset("gspmc87")
    ours = CTRGCN(226, spatial_adjacency(p.edges, 87), num_person=1)
    assert 1.69e6 < count_parameters(ours) < 1.71e6       # public at V=87, 226 classes: 1.70 M


def test_adjacency_subsets():
    A = spatial_adjacency([(1, 0), (2, 1)], 3)
    np.testing.assert_array_equal(A[0], np.eye(3))
    assert A[1][0, 1] == 1 and A[1][1, 2] == 1            # inward: child column -> parent row
    assert A[2][1, 0] == 1 and A[2][2, 1] == 1
    np.testing.assert_allclose(A[1].sum(0)[[1, 2]], 1)     # columns normalised


def _reference_unit_gcn(m: CTRGraphConv, x: torch.Tensor) -> torch.Tensor:
    """The public unit_gcn forward, one CTRGC per subset, using the fused weights' slices."""
    S, R, C = m.num_subset, m.rel_channels, m.out_channels
    w12, b12 = m.conv12.weight, m.conv12.bias
    y = 0
    for s in range(S):
        sl1, sl2 = slice(s * R, (s + 1) * R), slice(S * R + s * R, S * R + (s + 1) * R)
        x1 = F.conv2d(x, w12[sl1], b12[sl1]).mean(-2)
        x2 = F.conv2d(x, w12[sl2], b12[sl2]).mean(-2)
        x3 = F.conv2d(x, m.conv3.weight[s * C:(s + 1) * C], m.conv3.bias[s * C:(s + 1) * C])
        rel = torch.tanh(x1.unsqueeze(-1) - x2.unsqueeze(-2))
        a = F.conv2d(rel, m.conv4.weight[s * C:(s + 1) * C], m.conv4.bias[s * C:(s + 1) * C]) * m.alpha + m.PA[s]
        y = y + torch.einsum("ncuv,nctv->nctu", a, x3)
    y = m.bn(y) + m.down(x)
    return torch.relu(y)


@pytest.mark.parametrize("cin,cout", [(3, 16), (16, 16), (16, 32)])
def test_fused_ctr_gc_equals_the_per_subset_formula(cin, cout):
    torch.manual_seed(0)
    p = get_preset("sam27")
    m = CTRGraphConv(cin, cout, spatial_adjacency(p.edges, 27))
    with torch.no_grad():
        m.alpha.fill_(0.7)
        m.PA.add_(torch.randn_like(m.PA) * 0.1)
        m.bn.weight.fill_(1.0)
    m.eval()
    x = torch.randn(2, cin, 6, 27)
    torch.testing.assert_close(m(x), _reference_unit_gcn(m, x), rtol=1e-4, atol=1e-5)


def test_temporal_conv_branches():
    torch.manual_seed(0)
    m = MultiScaleTemporalConv(16, 16, 5, 2, [1, 2]).eval()
    x = torch.randn(2, 16, 8, 5)
    out = m(x)
    assert out.shape == (2, 16, 4, 5)
    bc = 4
    h = torch.relu(m.entry_bn(m.entry(x)))
    # eval mode: the fused exit BatchNorm is an affine map per channel
    scale = m.exit_bn.weight / torch.sqrt(m.exit_bn.running_var + m.exit_bn.eps)
    shift = m.exit_bn.bias - m.exit_bn.running_mean * scale

    def exit_bn(y, rows):
        return y * scale[rows, None, None] + shift[rows, None, None]

    rows = slice(2 * bc, 3 * bc)
    expected_pool = exit_bn(F.max_pool2d(h[:, 2 * bc:], (3, 1), (2, 1), (1, 0)), rows)
    torch.testing.assert_close(out[:, rows], expected_pool)
    torch.testing.assert_close(out[:, 3 * bc:], exit_bn(m.plain(x), slice(3 * bc, 4 * bc)))


def test_shapes_and_gradients():
    torch.manual_seed(0)
    p = get_preset("gspmc87")
    m = CTRGCN(10, spatial_adjacency(p.edges, 87), base_channels=8, num_units=4, stride_units=[2, 4])
    x = torch.randn(3, 3, 16, 87)
    assert m.features(x).shape == (3, 32, 4, 87)
    logits = m(x)
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


ELEMENTS = 40_000   # weights per empirical std: its sampling error is then about 0.4 %


def _public_conv_std(cin: int, cout: int) -> float:
    """Empirical weight std of the public model's separate 1x1 conv (conv_init: Kaiming, fan-out)."""
    ws = []
    for _ in range(-(-ELEMENTS // (cin * cout))):
        conv = torch.nn.Conv2d(cin, cout, 1)
        torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out")
        ws.append(conv.weight.detach().flatten())
    return float(torch.cat(ws).std())


def _slice_stds(build, pick, slices: int) -> list[float]:
    """Empirical std of each fused slice over enough fresh models."""
    pieces = [[] for _ in range(slices)]
    draws = -(-ELEMENTS * slices // pick(build()).numel())
    for _ in range(draws):
        w = pick(build()).detach()
        for k, piece in enumerate(w.split(w.shape[0] // slices, 0)):
            pieces[k].append(piece.flatten())
    return [float(torch.cat(p).std()) for p in pieces]


@pytest.mark.parametrize("cin,cout", [(3, 64), (64, 64), (64, 128)])
def test_fused_convs_start_from_the_public_per_branch_distribution(cin, cout):
    """Every slice of a fused conv has the std of the separate public conv it replaces
    (Kaiming fan-out of that conv alone), not the fused tensor's smaller one."""
    torch.manual_seed(0)
    A = spatial_adjacency(get_preset("sam27").edges, 27)
    S = A.shape[0]
    gcn = lambda: CTRGraphConv(cin, cout, A)  # noqa: E731
    R = gcn().rel_channels
    checks = [
        (lambda m: m.conv12.weight, 2 * S, _public_conv_std(cin, R)),     # conv1, conv2 per subset
        (lambda m: m.conv3.weight, S, _public_conv_std(cin, cout)),       # conv3 per subset
        (lambda m: m.conv4.weight, S, _public_conv_std(R, cout)),         # conv4 per subset
    ]
    for pick, slices, public in checks:
        for std in _slice_stds(gcn, pick, slices):
            assert std == pytest.approx(public, rel=0.05)
    tcn = lambda: MultiScaleTemporalConv(cout, cout, 5, 1, [1, 2])  # noqa: E731
    bc = cout // 4
    for std in _slice_stds(tcn, lambda m: m.entry.weight, 3):        # the branches' 1x1 entries
        assert std == pytest.approx(_public_conv_std(cout, bc), rel=0.05)
    assert _public_conv_std(cout, bc) == pytest.approx((2 / bc) ** 0.5, rel=0.05)


@pytest.mark.parametrize("stride, bias", [(1, True), (2, True), (1, False)])
def test_pointwise_conv_is_the_1x1_conv(stride, bias):
    """The CPU's batched-matmul 1x1 conv: the conv's values and gradients, to float64 rounding."""
    from pipeline.model.ctrgcn import pointwise_conv

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 7, 1, stride=(stride, 1), bias=bias).double()
    x = torch.randn(3, 5, 9, 4, dtype=torch.float64, requires_grad=True)
    ours = pointwise_conv(x, conv)
    torch.testing.assert_close(ours, conv(x), rtol=1e-12, atol=1e-12)
    g = torch.randn_like(ours)
    wrt = [x, *conv.parameters()]
    for a, b in zip(torch.autograd.grad(ours, wrt, g), torch.autograd.grad(conv(x), wrt, g)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="1x1 conv"):
        pointwise_conv(x, torch.nn.Conv2d(5, 7, (3, 1)).double())


def test_the_per_sample_aggregation_is_the_whole_batch_one():
    """The CPU's build-and-apply loop (one sample and subset at a time, the adjacency gradient
    never built for the batch) against the whole-batch matmuls: values and the gradients of
    all three inputs, to float64 rounding; without gradients (inference) it keeps no adjacency
    and gives the same values."""
    from pipeline.model.aggregate import BuildAndApply, whole_batch_aggregate

    torch.manual_seed(0)
    N, S, C, T, V, K = 3, 2, 5, 4, 6, 7
    x3 = torch.randn(N, S, C, T, V, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(S, C, K, dtype=torch.float64, requires_grad=True)
    rel = torch.randn(N, S, K, V * V, dtype=torch.float64, requires_grad=True)

    def whole_batch(x3, weight, rel):
        adj = torch.matmul(weight, rel).view(N, S, C, V, V)
        return torch.einsum("nsctv,nscvu->nctu", x3, adj)

    ours, expected = BuildAndApply.apply(x3, weight, rel), whole_batch(x3, weight, rel)
    torch.testing.assert_close(ours, expected, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(ours)
    wrt = [x3, weight, rel]
    for a, b in zip(torch.autograd.grad(ours, wrt, g), torch.autograd.grad(expected, wrt, g)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        torch.testing.assert_close(BuildAndApply.apply(x3, weight, rel), expected, rtol=1e-12, atol=1e-12)

    # benchmark train's FLOP limit counts every matmul of the loop (FlopCounterMode sees
    # out= forms, not in-place ones), forward and backward, as many as the whole batch's
    def counted(f):
        with FlopCounterMode(display=False) as counter:
            f(x3, weight, rel).backward(g)
        return counter.get_total_flops()

    assert counted(BuildAndApply.apply) == counted(whole_batch_aggregate)


def test_the_relation_map_is_tanh_of_differences_beside_ones_and_the_adjacency():
    """RelationMap (written in place, one copy kept) against autograd over the formula it
    replaces: tanh(x1_u - x2_v), a channel of ones and PA transposed; values and gradients."""
    from pipeline.model.relation_map import RelationMap

    torch.manual_seed(0)
    N, S, R, V = 2, 3, 4, 5
    x1, x2 = (torch.randn(N, S, R, V, dtype=torch.float64, requires_grad=True) for _ in range(2))
    PA = torch.randn(S, V, V, dtype=torch.float64, requires_grad=True)
    const = torch.stack([torch.ones_like(PA), PA.transpose(1, 2)], 1).expand(N, S, 2, V, V)
    expected = torch.cat([torch.tanh(x1.unsqueeze(-2) - x2.unsqueeze(-1)), const], 2)
    ours = RelationMap.apply(x1, x2, PA)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-15)
    g = torch.randn_like(ours)
    for a, b in zip(torch.autograd.grad(ours, (x1, x2, PA), g), torch.autograd.grad(expected, (x1, x2, PA), g)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(RelationMap.apply, (x1, x2, PA))
    # under autocast the map is bf16 and PA float32: PA's gradient is summed in float32
    x1, x2 = (t.detach().bfloat16().requires_grad_() for t in (x1, x2))
    PA = PA.detach().float().requires_grad_()
    ours = RelationMap.apply(x1, x2, PA)
    g = g.bfloat16()
    (ours * g).sum().backward()
    assert ours.dtype == torch.bfloat16
    torch.testing.assert_close(PA.grad, g[:, :, R + 1].float().sum(0).transpose(1, 2), rtol=1e-6, atol=0)


@pytest.mark.parametrize("stride", [1, 2])
def test_the_temporal_conv_is_bitwise_its_nchw_pool_over_slices(stride):
    """On the CPU the max-pool branch pools a channels-last copy of a split of h: the same
    values and, with ReLU's zeros tying in the windows, the same argmax, so output and input
    gradient are bit for bit those of the NCHW max-pool over slices of h."""
    from pipeline.model.ctrgcn import pointwise_conv

    torch.manual_seed(0)
    m = MultiScaleTemporalConv(12, 12, 5, stride, [1, 2])
    bc = m.bc
    x = torch.randn(2, 12, 10, 6, requires_grad=True)
    g = torch.randn(2, 12, 10 // stride, 6)

    def nchw(x):
        h = torch.relu(m.entry_bn(pointwise_conv(x, m.entry)))
        outs = [conv(h[:, k * bc:(k + 1) * bc]) for k, conv in enumerate(m.temporal)]
        outs += [m.pool(h[:, 2 * bc:]), pointwise_conv(x, m.plain)]
        return m.exit_bn(torch.cat(outs, 1))

    expected, got = nchw(x), m(x)
    assert torch.equal(expected, got)
    assert torch.equal(torch.autograd.grad(expected, x, g)[0], torch.autograd.grad(got, x, g)[0])


@pytest.mark.parametrize("train_mode", [False, True])
def test_the_fused_model_is_the_published_per_subset_model_in_float64(train_mode):
    """Ours and the published structure (model/reference.py) holding the same weights give
    the same logits and the same gradients, to float64 rounding: the fused rewrites change
    the arithmetic's order, not the function."""
    from pipeline.model.reference import reference_from

    torch.manual_seed(0)
    p = get_preset("sam27")
    ours = CTRGCN(7, spatial_adjacency(p.edges, 27), base_channels=16, num_units=4, stride_units=[2, 4]).double()
    with torch.no_grad():
        for m in ours.modules():
            if isinstance(m, CTRGraphConv):
                m.alpha.fill_(0.7)
                m.bn.weight.fill_(0.5)
    theirs = reference_from(ours)
    assert count_parameters(theirs) == count_parameters(ours)
    ours.train(train_mode)
    theirs.train(train_mode)
    x = torch.randn(3, 3, 12, 27, dtype=torch.float64)
    out, ref = ours(x), theirs(x)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    out.square().sum().backward()
    ref.square().sum().backward()
    g_ours = ours.units[1].gcn.conv3.weight.grad
    g_ref = torch.cat([c.conv3.weight.grad for c in theirs.units[1].gcn.convs])
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(ours.units[2].tcn.entry.weight.grad,
                               torch.cat([b[0].weight.grad for b in theirs.units[2].tcn.branches[:-1]]),
                               rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(ours.fc.weight.grad, theirs.fc.weight.grad, rtol=1e-9, atol=1e-10)


def test_the_reference_has_the_papers_parameter_count():
    from pipeline.model.reference import reference_ctrgcn

    p = get_preset("gspmc87")
    A = spatial_adjacency(p.edges, 87)
    assert count_parameters(reference_ctrgcn(226, A)) == count_parameters(CTRGCN(226, A)) == 1_697_876


def test_a_model_saved_before_the_closing_batchnorms_were_fused_loads():
    """A trained run's model.pt of the earlier layout (one BatchNorm per temporal branch)
    loads into the fused model as the same weights."""
    torch.manual_seed(0)
    p = get_preset("gspmc87")
    model = CTRGCN(10, spatial_adjacency(p.edges, 87), base_channels=8, num_units=2, stride_units=[2])
    model.train()(torch.randn(4, 3, 8, 87))              # running statistics other than the initial ones
    new = model.state_dict()
    old = {}
    for key, value in new.items():
        unit, _, rest = key.partition(".tcn.")
        if not rest:
            old[key] = value
        elif rest.startswith("exit_bn."):
            name = rest.split(".", 1)[1]
            branches = ["temporal.0.1", "temporal.1.1", "pool_bn", "plain.1"]
            bc = value.numel() // len(branches)
            for k, branch in enumerate(branches):
                part = value if name == "num_batches_tracked" else value[k * bc:(k + 1) * bc]
                old[f"{unit}.tcn.{branch}.{name}"] = part
        elif rest.startswith(("temporal.", "plain.")):
            module, name = rest.rsplit(".", 1)
            old[f"{unit}.tcn.{module}.0.{name}"] = value
        else:
            old[key] = value
    assert "units.0.tcn.pool_bn.running_mean" in old and "units.0.tcn.exit_bn.weight" not in old
    fresh = CTRGCN(10, spatial_adjacency(p.edges, 87), base_channels=8, num_units=2, stride_units=[2])
    fresh.load_state_dict(old)
    loaded = fresh.state_dict()
    assert loaded.keys() == new.keys() and all(torch.equal(loaded[k], new[k]) for k in new)


def test_torch_compile_traces_the_encoder_in_one_graph():
    """train.compile: the encoder's forward, relation map included, traces without a graph
    break. An out= into the map's strided slice broke it once per unit, and with the paper's
    ten units inductor then failed outright (torch 2.13, CPU: `aten.set_` on a fake tensor)."""
    A = spatial_adjacency([(k, k - 1) for k in range(1, 10)], 10)
    model = CTRGCN(4, A, base_channels=16, num_units=3, stride_units=[2])
    explained = torch._dynamo.explain(model.features)(torch.randn(2, 3, 8, 10))
    assert explained.graph_break_count == 0, [r.reason.splitlines()[0] for r in explained.break_reasons]
