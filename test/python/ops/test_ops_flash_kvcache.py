"""tessera.ops.flash_attn_with_kvcache (specs/rwkv-and-attention.md C.5), and the split-KV
decode path it shares with scaled_dot_product_attention and flash_attn_func.

The expected cache after the call is built here with plain PyTorch indexing (new rows at
``cache_seqlens[b] + i``, rotated where rotary tables are given), and the expected output is
the C.7 reference of each batch over its keys ``[cache_leftpad[b], cache_seqlens[b] + S_new)``,
bottom-right aligned. Covered: cache_seqlens 0, partial and full; append and no append;
contiguous and paged caches (permuted block tables); rotary interleaved and not, partial rotary
dims; cache_batch_idx; cache_leftpad; GQA / MQA; causal, windows, softcap and ALiBi; several
queries per step; the LSE; forced and chosen split counts; SDPA's present_* slot write;
argument errors.

Runs on every device (see conftest.py): the CPU runs the host-compiled kernels over caches of
up to about a thousand rows; the longer ones are cuda_only. The CPU counts as 4 SMs
(arguments.HOST_SM_COUNT), so a decode step of one (batch, kv head) pair splits there too.

Every call runs on a cache whose unused rows are NaN, so a key read past the sequence (or a
row written anywhere but its slot) shows; outputs come from NaN-poisoned allocations.
"""
import math

import pytest
from op_helpers import require_torch, synchronize

torch = require_torch()

import tessera.ops as ops  # noqa: E402
from tessera.ops import attention_splitkv  # noqa: E402
from tessera.ops.kernels import grid  # noqa: E402
from attention_reference import check_close, check_lse, poison_allocator, reference  # noqa: E402

pytestmark = pytest.mark.usefixtures("exact_fp32_matmul")  # the fp32 reference
CUDA_ONLY = pytest.mark.cuda_only


def rotate(x, cos, sin, positions, interleaved):
    """RoPE of x (B, S, H, D) at positions (B, S) with tables (S_ro, rd / 2), in fp32."""
    half = cos.shape[1]
    c = cos.float()[positions][:, :, None, :]
    s = sin.float()[positions][:, :, None, :]
    x = x.float().clone()
    if interleaved:
        x0, x1 = x[..., 0:2 * half:2].clone(), x[..., 1:2 * half:2].clone()
        x[..., 0:2 * half:2] = x0 * c - x1 * s
        x[..., 1:2 * half:2] = x0 * s + x1 * c
    else:
        x0, x1 = x[..., :half].clone(), x[..., half:2 * half].clone()
        x[..., :half] = x0 * c - x1 * s
        x[..., half:2 * half] = x0 * s + x1 * c
    return x


def call_kwargs(attention):
    """The reference's keyword arguments (causal, window, ...) as flash_attn_with_kvcache's."""
    names = {"causal": "causal", "window": "window_size", "softcap": "softcap",
             "alibi": "alibi_slopes", "scale": "softmax_scale"}
    return {names[key]: value for key, value in attention.items()}


class Case:
    """One flash_attn_with_kvcache call: random inputs, the call's arguments and its expected
    cache (logical: (B, capacity, Hk, D) per batch) and output."""

    def __init__(self, gen, batch=2, sq=1, s_new=1, hq=8, hk=2, d=64, capacity=300,
                 lengths=(37, 250), paged=0, rotary=None, rotary_dim=None, batch_idx=False,
                 leftpad=None, dtype=torch.bfloat16, **attention):
        device = gen.device

        def randn(*shape):
            return torch.randn(*shape, device=device, generator=gen).to(dtype)
        self.dtype, self.attention = dtype, attention
        self.q = randn(batch, sq, hq, d)
        self.k_new = randn(batch, s_new, hk, d) if s_new else None
        self.v_new = randn(batch, s_new, hk, d) if s_new else None
        self.lengths = torch.tensor(lengths, dtype=torch.int32, device=device)
        # the logical cache: random rows in use, NaN beyond
        rows = torch.arange(capacity, device=device)[None, :, None, None]
        used = rows < self.lengths[:, None, None, None]
        self.k_logical = torch.where(used, randn(batch, capacity, hk, d), float("nan"))
        self.v_logical = torch.where(used, randn(batch, capacity, hk, d), float("nan"))
        self.kwargs = call_kwargs(attention)
        self.kwargs["cache_seqlens"] = self.lengths
        self.page = paged
        if paged:
            blocks = capacity // paged
            order = torch.randperm(batch * blocks, device=device, generator=gen)
            self.table = order.view(batch, blocks).to(torch.int32)
            self.k_cache = torch.full((batch * blocks + 1, paged, hk, d), float("nan"),
                                      dtype=dtype, device=device)
            self.v_cache = self.k_cache.clone()
            self._store(self.k_cache, self.k_logical)
            self._store(self.v_cache, self.v_logical)
            self.kwargs["block_table"] = self.table
        elif batch_idx:
            # the batches live in shuffled entries of a larger cache
            self.entries = torch.randperm(batch + 2, device=device, generator=gen)[:batch]
            self.k_cache = torch.full((batch + 2, capacity, hk, d), float("nan"),
                                      dtype=dtype, device=device)
            self.v_cache = self.k_cache.clone()
            self.k_cache[self.entries] = self.k_logical
            self.v_cache[self.entries] = self.v_logical
            self.kwargs["cache_batch_idx"] = self.entries.to(torch.int32)
        else:
            self.k_cache, self.v_cache = self.k_logical.clone(), self.v_logical.clone()
        self.leftpad = None
        if leftpad is not None:
            self.leftpad = torch.tensor(leftpad, dtype=torch.int32, device=device)
            self.kwargs["cache_leftpad"] = self.leftpad
        self.rotary = None
        if rotary is not None:
            rotary_dim = rotary_dim or d
            angles = torch.rand(capacity + 16, rotary_dim // 2, device=device, generator=gen)
            angles = angles * 2 * math.pi
            self.rotary = (angles.cos().to(dtype), angles.sin().to(dtype), rotary == "interleaved")
            self.kwargs.update(rotary_cos=self.rotary[0], rotary_sin=self.rotary[1],
                               rotary_interleaved=self.rotary[2])

    def _store(self, pages, logical):
        for b in range(logical.shape[0]):
            for j, page in enumerate(self.table[b].tolist()):
                pages[page] = logical[b, j * self.page:(j + 1) * self.page]

    def logical_cache(self, cache):
        """The cache as (B, capacity, Hk, D), read back through the table or batch index."""
        if self.page:
            return torch.stack([cache[self.table[b].long()].flatten(0, 1)
                                for b in range(self.table.shape[0])])
        if "cache_batch_idx" in self.kwargs:
            return cache[self.entries]
        return cache

    def call(self):
        poison_allocator(self.q.device, self.q.shape, dtype=self.dtype)
        result = ops.flash_attn_with_kvcache(self.q, self.k_cache, self.v_cache, self.k_new,
                                             self.v_new, **self.kwargs)
        synchronize(self.q.device)
        return result

    def expected_cache(self):
        """(k, v) logical caches after the append, in the cache's dtype."""
        k, v = self.k_logical.clone(), self.v_logical.clone()
        if self.k_new is None:
            return k, v
        s_new = self.k_new.shape[1]
        positions = self.lengths[:, None].long() + torch.arange(s_new, device=k.device)[None]
        k_new = self.k_new
        if self.rotary is not None:
            k_new = rotate(k_new, *self.rotary[:2], positions, self.rotary[2]).to(self.dtype)
        for b in range(k.shape[0]):
            k[b, positions[b]] = k_new[b]
            v[b, positions[b]] = self.v_new[b]
        return k, v

    def expected(self, upcast=True):
        """(out, lse) of the reference, batch by batch over each one's visible keys."""
        k, v = self.expected_cache()
        q = self.q
        s_new = 0 if self.k_new is None else self.k_new.shape[1]
        if self.rotary is not None:
            positions = (self.lengths[:, None].long()
                         + torch.arange(q.shape[1], device=q.device)[None])
            q = rotate(q, *self.rotary[:2], positions, self.rotary[2]).to(self.dtype)
        outs, lses = [], []
        for b in range(q.shape[0]):
            end = int(self.lengths[b]) + s_new
            start = 0 if self.leftpad is None else int(self.leftpad[b])
            attention = dict(self.attention)
            if attention.get("alibi") is not None and attention["alibi"].dim() == 2:
                attention["alibi"] = attention["alibi"][b:b + 1]
            out, lse = reference(q[b:b + 1], k[b:b + 1, start:end], v[b:b + 1, start:end],
                                 upcast=upcast, **attention)
            outs.append(out)
            lses.append(lse)
        return torch.cat(outs), torch.cat(lses)


def check_case(case, lse=False):
    if lse:
        case.kwargs["return_softmax_lse"] = True
        out, got_lse = case.call()
    else:
        out = case.call()
    ref, ref_lse = case.expected()
    low, _ = case.expected(upcast=False)
    check_close("out", out, ref, low, 2)
    if lse:
        check_lse(got_lse, ref_lse)
    k, v = case.expected_cache()
    # a rotated row may differ from the reference's by the rounding of its last step
    rtol = torch.finfo(case.dtype).eps if case.rotary is not None else 0.0
    for name, got, want in (("k_cache", case.logical_cache(case.k_cache), k),
                            ("v_cache", case.logical_cache(case.v_cache), v)):
        close = torch.isclose(got.float(), want.float(), rtol=rtol, atol=rtol * 1e-4,
                              equal_nan=True)
        assert bool(close.all()), f"{name}: {int((~close).sum())} elements differ"


HEADS = {"gqa": (8, 2), "mha": (6, 6), "mqa": (4, 1)}
# The CPU runs every head dim with GQA, and MHA and MQA with a padded D and with D = 256 (the
# other kernel configuration): each (head dim, heads) pair is a compile of its own there.
CPU_HEAD_DIMS = {"mha": (59, 256), "mqa": (59, 256)}


@pytest.mark.parametrize("d,heads", [
    pytest.param(d, name, id=f"{name}-{d}",
                 marks=[] if d in CPU_HEAD_DIMS.get(name, (d,)) else [CUDA_ONLY])
    for d in [32, 59, 64, 80, 128, 256] for name in HEADS])
def test_head_dims_and_heads(d, heads, gen):
    hq, hk = HEADS[heads]
    check_case(Case(gen, d=d, hq=hq, hk=hk, causal=True))


@pytest.mark.parametrize("lengths", [(0, 0), (0, 120), (299, 17)], ids=str)
@pytest.mark.parametrize("s_new", [0, 1])
def test_cache_seqlens(lengths, s_new, gen):
    check_case(Case(gen, lengths=lengths, s_new=s_new, causal=True), lse=True)


def test_full_cache_without_seqlens(gen):
    """cache_seqlens=None: every row of the cache is a key."""
    case = Case(gen, s_new=0, lengths=(300, 300), d=64)
    del case.kwargs["cache_seqlens"]
    check_case(case)


def test_int_cache_seqlens(gen):
    case = Case(gen, lengths=(77, 77), s_new=2, sq=2, causal=True)
    case.kwargs["cache_seqlens"] = 77
    check_case(case)


@pytest.mark.parametrize("sq_new", [(3, 3), (4, 1), (5, 0)], ids=str)
@pytest.mark.parametrize("causal", [False, True])
def test_several_queries(sq_new, causal, gen):
    sq, s_new = sq_new
    check_case(Case(gen, sq=sq, s_new=s_new, causal=causal), lse=True)


@pytest.mark.parametrize("page", [16, 64, 256])
@pytest.mark.parametrize("s_new", [0, 3])
def test_paged(page, s_new, gen):
    check_case(Case(gen, paged=page, capacity=512, lengths=(100, 500 - s_new), s_new=s_new,
                    sq=max(s_new, 1), causal=True, d=128))


@pytest.mark.parametrize("rotary", ["interleaved", "halves"])
@pytest.mark.parametrize("rotary_dim", [None, 32])
@pytest.mark.parametrize("paged", [0, 16])
def test_rotary(rotary, rotary_dim, paged, gen):
    check_case(Case(gen, rotary=rotary, rotary_dim=rotary_dim, paged=paged, capacity=320,
                    s_new=2, sq=2, d=64, causal=True))


def test_cache_batch_idx(gen):
    check_case(Case(gen, batch=3, lengths=(5, 200, 0), batch_idx=True, s_new=1, causal=True))


def test_caches_interleaved_in_one_buffer(gen):
    """k_cache and v_cache as the two halves of each row of one (B, S, 2, Hk, D) buffer: views
    that share a buffer but no element, which the overlap checks must let through."""
    case = Case(gen, s_new=2, sq=2, causal=True)
    kv = torch.stack([case.k_cache, case.v_cache], dim=2)
    case.k_cache, case.v_cache = kv[:, :, 0], kv[:, :, 1]
    check_case(case)


def test_cache_leftpad(gen):
    check_case(Case(gen, lengths=(40, 250), leftpad=(10, 249), s_new=1, sq=2, causal=True,
                    window=(20, 0)))


@pytest.mark.parametrize("attention", [
    {"window": (16, 0)}, {"window": (0, 0)}, {"window": (400, 400)}, {"softcap": 50.0},
    {"scale": 0.3}, {"causal": True, "softcap": 30.0}], ids=str)
def test_score_options(attention, gen):
    check_case(Case(gen, s_new=2, sq=3, **attention), lse=True)


@pytest.mark.parametrize("per_batch", [False, True])
def test_alibi(per_batch, gen, device):
    shape = (2, 8) if per_batch else (8,)
    slopes = torch.rand(*shape, device=device, generator=gen) * 0.3
    check_case(Case(gen, alibi=slopes, causal=True, s_new=1, sq=2))


# a GQA 32/8 cache of 4096 rows, and GQA 8/2 over 512 rows for the CPU
SPLIT_CACHES = [pytest.param(dict(lengths=(1000, 3000), capacity=4096, hq=32, hk=8),
                             marks=CUDA_ONLY, id="gqa32-8"),
                pytest.param(dict(lengths=(150, 450), capacity=512, hq=8, hk=2), id="gqa8-2")]


@pytest.mark.parametrize("cache", SPLIT_CACHES)
@pytest.mark.parametrize("num_splits", [1, 3, 7, 0])
def test_num_splits(num_splits, cache, gen):
    """Any split count gives the reference's result (to rounding)."""
    case = Case(gen, s_new=1, causal=True, d=128, **cache)
    case.kwargs["num_splits"] = num_splits
    check_case(case, lse=True)


@pytest.mark.parametrize("shape", [pytest.param((16000, 16384, 32, 8), marks=CUDA_ONLY),
                                   (1000, 1024, 4, 1)], ids=lambda s: "s{}_cap{}_{}-{}".format(*s))
def test_long_decode(shape, gen, monkeypatch):
    """A decode step over many keys for few (batch, kv head) pairs: chosen splits, several
    (GQA 32/8 over 16k keys on a GPU; MQA 4/1 over 1k keys on the CPU's 4 "SMs")."""
    length, capacity, hq, hk = shape
    chosen = []
    choose = attention_splitkv._num_splits

    def recording(*args):
        chosen.append(choose(*args))
        return chosen[-1]
    monkeypatch.setattr(attention_splitkv, "_num_splits", recording)
    check_case(Case(gen, batch=1, lengths=(length,), capacity=capacity, s_new=1, hq=hq, hk=hk,
                    d=128, causal=True), lse=True)
    assert len(chosen) == 1 and chosen[0] > 1, f"split {chosen}; expected several"


# Tests more (batch, head) pairs than grid axis 1 holds (kernels/grid.py; the limit lowered from
# 65535 to 5 here): the split-KV kernel in 3 splits, the cache append and the rotated query
# write, over (heads, batch) grids (3 batches, GQA 4/2) and over a factorisation where the
# heads alone exceed the limit (6 = 3 x 2).
@pytest.mark.parametrize("batch,lengths,hq,hk", [(3, (150, 450, 7), 4, 2), (1, (450,), 6, 6)],
                         ids=["heads-by-batch", "factorised"])
def test_pairs_over_two_grid_axes(batch, lengths, hq, hk, gen, monkeypatch):
    monkeypatch.setattr(grid, "MAX_GRID_YZ", 5)
    case = Case(gen, batch=batch, lengths=lengths, capacity=512, hq=hq, hk=hk, s_new=1,
                causal=True, rotary="halves")
    case.kwargs["num_splits"] = 3
    check_case(case, lse=True)


def test_fp16(gen):
    check_case(Case(gen, dtype=torch.float16, s_new=1, causal=True, rotary="halves"))


@pytest.mark.parametrize("lq", [1, 4])
def test_sdpa_present_slot_write(lq, gen, device):
    """SDPA writes present_key / present_value into their slots, then attends over all keys."""
    b, hq, hkv, lk, d = 2, 8, 2, 200, 64

    def randn(*shape):
        return torch.randn(*shape, device=device, generator=gen).to(torch.bfloat16)
    q = randn(b, hq, lq, d)
    key, value = randn(b, hkv, lk, d), randn(b, hkv, lk, d)
    key[:, :, -lq:] = float("nan")
    value[:, :, -lq:] = float("nan")
    new_k, new_v = randn(b, hkv, lq, d), randn(b, hkv, lq, d)
    poison_allocator(device, q.shape, dtype=q.dtype)
    out = ops.scaled_dot_product_attention(
        q, key, value, enable_gqa=True, is_causal=True,
        causal_variant=ops.CausalVariant.LOWER_RIGHT, present_key=new_k, present_value=new_v,
        present_key_slot=key[:, :, -lq:], present_value_slot=value[:, :, -lq:])
    synchronize(device)
    assert torch.equal(key[:, :, -lq:], new_k) and torch.equal(value[:, :, -lq:], new_v)
    args = [t.transpose(1, 2) for t in (q, key, value)]
    ref, _ = reference(*args, causal=True)
    low, _ = reference(*args, causal=True, upcast=False)
    check_close("out", out.transpose(1, 2), ref, low, 2)


def test_sdpa_present_errors(gen, device):
    key = torch.randn(1, 2, 16, 64, device=device, generator=gen).to(torch.bfloat16)
    q, value, new = key.repeat(1, 2, 1, 1)[:, :, :1], key.clone(), key[:, :, :1].clone()
    with pytest.raises(ValueError, match="present_value_slot missing"):
        ops.scaled_dot_product_attention(q, key, value, enable_gqa=True, present_key=new,
                                         present_value=new, present_key_slot=key[:, :, -1:])
    with pytest.raises(ValueError, match="present_value_slot is not a view into value"):
        ops.scaled_dot_product_attention(q, key, value, enable_gqa=True, present_key=new,
                                         present_value=new, present_key_slot=key[:, :, -1:],
                                         present_value_slot=new.clone())
    with pytest.raises(ValueError, match="present_key_slot has shape"):
        ops.scaled_dot_product_attention(q, key, value, enable_gqa=True, present_key=new,
                                         present_value=new, present_key_slot=key[:, :, -2:],
                                         present_value_slot=value[:, :, -1:])


def error_case(gen):
    return Case(gen, s_new=1, lengths=(5, 6), capacity=64, d=64)


def ones(case, *shape):
    """fp32 ones on the case's device (rotary tables)."""
    return torch.ones(*shape, device=case.q.device)


# id: (a change to the call's keyword arguments or inputs, the error type, a message pattern)
ERRORS = {
    "k_without_v": (lambda c, kw: c.__setattr__("v_new", None), ValueError, "only one of k"),
    "k_without_seqlens": (lambda c, kw: kw.pop("cache_seqlens"), ValueError,
                          "need cache_seqlens"),
    "int_seqlens_too_long": (lambda c, kw: kw.update(cache_seqlens=64), ValueError,
                             "cache_seqlens is 64"),
    "seqlens_dtype": (lambda c, kw: kw.update(cache_seqlens=c.lengths.long()), TypeError,
                      "cache_seqlens has dtype"),
    "seqlens_shape": (lambda c, kw: kw.update(cache_seqlens=c.lengths[:1]), ValueError,
                      r"cache_seqlens has shape \(1,\)"),
    "cache_shapes_differ": (lambda c, kw: c.__setattr__("k_cache", c.k_cache[:1]), ValueError,
                            "v_cache has shape"),
    "cache_batch": (lambda c, kw: (c.__setattr__("k_cache", c.k_cache[:1]),
                                   c.__setattr__("v_cache", c.v_cache[:1])), ValueError,
                    "k_cache has batch 1"),
    "cache_head_dim": (lambda c, kw: (c.__setattr__("k_cache", c.k_cache[..., :32]),
                                      c.__setattr__("v_cache", c.v_cache[..., :32])),
                       ValueError, "k_cache has head dimension"),
    "new_k_heads": (lambda c, kw: (c.__setattr__("k_new", c.k_new.repeat(1, 1, 2, 1)),
                                   c.__setattr__("v_new", c.v_new.repeat(1, 1, 2, 1))),
                    ValueError, "k has shape"),
    "page_size": (lambda c, kw: kw.update(block_table=torch.zeros(
        2, 8, dtype=torch.int32, device=c.q.device)) or (
            c.__setattr__("k_cache", c.k_cache.view(16, 8, 2, 64)),
            c.__setattr__("v_cache", c.v_cache.view(16, 8, 2, 64))),
        ValueError, "pages of 8 rows"),
    "table_and_batch_idx": (lambda c, kw: kw.update(
        block_table=torch.zeros(2, 4, dtype=torch.int32, device=c.q.device),
        cache_batch_idx=torch.zeros(2, dtype=torch.int32, device=c.q.device)),
        NotImplementedError, "cache_batch_idx with block_table"),
    "rotary_without_k": (lambda c, kw: (c.__setattr__("k_new", None),
                                        c.__setattr__("v_new", None),
                                        kw.update(rotary_cos=ones(c, 64, 32),
                                                  rotary_sin=ones(c, 64, 32))),
                         ValueError, "expected k and v"),
    "rotary_too_wide": (lambda c, kw: kw.update(rotary_cos=ones(c, 64, 40),
                                                rotary_sin=ones(c, 64, 40)),
                        ValueError, "rotary_cos has 40 columns"),
    "rotary_one_table": (lambda c, kw: kw.update(rotary_cos=ones(c, 64, 32)),
                         ValueError, "only one of rotary_cos"),
    "num_splits": (lambda c, kw: kw.update(num_splits=-1), ValueError, "num_splits"),
    "q_on_meta": (lambda c, kw: c.__setattr__("q", c.q.to("meta")), ValueError,
                  "q is on meta; expected a CUDA or CPU tensor"),
    "q_on_cpu": (lambda c, kw: c.__setattr__("q", c.q.cpu()), ValueError, "q is on cpu"),
    "cache_dtype": (lambda c, kw: c.__setattr__("k_cache", c.k_cache.half()), TypeError,
                    "k_cache has dtype"),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=CUDA_ONLY) if n == "q_on_cpu" else n
                                  for n in ERRORS])  # q_on_cpu: a CPU q, a CUDA cache
def test_errors(name, gen):
    case = error_case(gen)
    change, error, pattern = ERRORS[name]
    change(case, case.kwargs)
    with pytest.raises(error, match=pattern):
        ops.flash_attn_with_kvcache(case.q, case.k_cache, case.v_cache, case.k_new,
                                    case.v_new, **case.kwargs)
