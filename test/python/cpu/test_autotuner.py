"""tessera.autotune / tessera.heuristics / tessera.Config without a GPU: the timing is injected
(`do_bench`) and the kernels are fakes that record their launches, except where a real
@tessera.jit kernel shows which failures skip a config and which propagate."""
import logging

import pytest

from test_frontend_support import tessera

import tessera.language as tl
from tessera.runtime import tuning_cache
from tessera.runtime.autotuner import Autotuner


class FakeTensor:
    """Just enough of a tensor for the autotuner: dtype, device, zero_, clone, copy_."""

    def __init__(self, values, dtype="float16", device="cuda:0"):
        self.values = list(values)
        self.dtype = dtype
        self.device = device

    def zero_(self):
        self.values = [0] * len(self.values)
        return self

    def clone(self):
        return FakeTensor(self.values, self.dtype, self.device)

    def copy_(self, other):
        self.values = list(other.values)
        return self


class FakeKernel:
    """A launchable kernel that records each launch; launching with a BLOCK in `failures` raises
    that exception; `effect(args)` runs at each launch (to modify tensors in place)."""

    __name__ = "fake_kernel"

    def __init__(self, arg_names=("x", "y", "n", "BLOCK"), failures=None, effect=None):
        self.arg_names = list(arg_names)
        self.failures = failures or {}
        self.effect = effect
        self.launches = []

    def run(self, *args, grid, **kwargs):
        self.launches.append(dict(zip(self.arg_names, args), **kwargs))
        error = self.failures.get(kwargs.get("BLOCK"))
        if error is not None:
            raise error
        if self.effect is not None:
            self.effect(dict(zip(self.arg_names, args), **kwargs))
        return kwargs


def configs(*blocks, num_warps=4):
    return [tessera.Config({"BLOCK": b}, num_warps=num_warps) for b in blocks]


class Timer:
    """An injected do_bench: runs the kernel once and reports TIMES[BLOCK] of that launch."""

    def __init__(self, kernel, times):
        self.kernel = kernel
        self.times = times
        self.timed = []

    def __call__(self, kernel_call):
        kernel_call()
        block = self.kernel.launches[-1]["BLOCK"]
        self.timed.append(block)
        return self.times[block]


def tuned(kernel, blocks, times, key=("n",), recorder=None, **options):
    timer = Timer(recorder or kernel, times)
    tuner = tessera.autotune(configs=configs(*blocks), key=list(key), do_bench=timer,
                             **options)(kernel)
    return tuner, timer


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("TESSERA_QUIET", "1")


@pytest.fixture(autouse=True)
def tuning_cache_root(monkeypatch, tmp_path):
    """Each test gets its own tuning cache (the fakes' results would otherwise carry over)."""
    root = tmp_path / "cache"
    monkeypatch.setattr(tuning_cache, "cache_root", lambda: str(root))
    return root


def test_config():
    c = tessera.Config({"BLOCK_M": 128, "BLOCK_N": 64}, num_warps=8, num_stages=4)
    assert c.all_kwargs() == {"BLOCK_M": 128, "BLOCK_N": 64, "num_warps": 8, "num_stages": 4}
    assert str(c) == "BLOCK_M: 128, BLOCK_N: 64, num_warps: 8, num_stages: 4"
    assert c == tessera.Config({"BLOCK_M": 128, "BLOCK_N": 64}, num_warps=8, num_stages=4)
    assert c != tessera.Config({"BLOCK_M": 128, "BLOCK_N": 64}, num_warps=4, num_stages=4)
    assert len({c, tessera.Config(dict(c.kwargs), num_warps=8, num_stages=4)}) == 1
    assert eval(repr(c), {"Config": tessera.Config}) == c


@pytest.mark.parametrize("arguments, error, match", [
    (([("BLOCK", 1)],), TypeError, "dict of meta-parameters"),
    (({"num_warps": 4},), ValueError, r"cannot set \['num_warps'\]"),
    (({}, 3), ValueError, "num_warps must be a power of two"),
    (({}, 64), ValueError, "num_warps must be a power of two"),
    (({}, 4, 0), ValueError, "num_stages must be an int >= 1"),
])
def test_config_errors(arguments, error, match):
    with pytest.raises(error, match=match):
        tessera.Config(*arguments)


def test_the_fastest_config_is_launched_and_cached_per_key():
    kernel = FakeKernel()
    tuner, timer = tuned(kernel, [128, 256, 512], {128: 2.0, 256: 1.0, 512: 3.0})
    x, y = FakeTensor([1, 2]), FakeTensor([0, 0])
    result = tuner[(1,)](x, y, 1000)
    assert timer.timed == [128, 256, 512]
    assert tuner.best_config == tessera.Config({"BLOCK": 256})
    assert tuner.configs_timings == {c: t for c, t in zip(configs(128, 256, 512), [2.0, 1.0, 3.0])}
    assert result == {"BLOCK": 256, "num_warps": 4, "num_stages": 3}
    assert kernel.launches[-1]["BLOCK"] == 256  # the real launch, after the timed ones
    assert tuner.bench_time >= 0

    launches = len(kernel.launches)
    tuner[(1,)](x, y, 1000)  # same key: no timing
    assert timer.timed == [128, 256, 512] and len(kernel.launches) == launches + 1
    assert list(tuner.cache) == [(1000, "float16", "float16", "cuda:0")]


def test_key_values_dtypes_and_device():
    kernel = FakeKernel()
    tuner, timer = tuned(kernel, [128, 256], {128: 1.0, 256: 2.0})
    x = FakeTensor([1])
    named = tuner.named_arguments((x, FakeTensor([1], dtype="float32", device="cuda:1"), 7),
                                  {"grid": (1,)})
    assert named == {"x": x, "y": named["y"], "n": 7}
    assert tuner.tuning_key(named) == (7, "float16", "float32", "cuda:0")
    assert tuner.tuning_key({"n": 7, "x": 1.5}) == (7, None)  # no tensors, no device

    tuner[(1,)](x, FakeTensor([1]), 7)
    tuner[(1,)](x, FakeTensor([2]), 7)  # other values, same key
    assert len(tuner.cache) == 1
    tuner[(1,)](x, FakeTensor([1]), 8)  # a key argument changed
    tuner[(1,)](x, FakeTensor([1], dtype="bfloat16"), 8)  # a dtype changed
    tuner[(1,)](x, FakeTensor([1], device="cuda:1"), 8)  # the device of the first is the key's
    assert len(tuner.cache) == 3
    assert len(timer.timed) == 6


def test_key_arguments_given_by_keyword_and_missing_ones():
    kernel = FakeKernel(arg_names=["x", "n", "m"])
    tuner, _ = tuned(kernel, [128, 256], {128: 1.0, 256: 2.0}, key=("n", "m"))
    named = tuner.named_arguments((FakeTensor([1]),), {"n": 3})
    assert tuner.tuning_key(named) == (3, "float16", "cuda:0")  # m omitted: not given


def test_a_single_config_is_never_timed():
    kernel = FakeKernel()
    tuner, timer = tuned(kernel, [128], {})
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [] and tuner.best_config == tessera.Config({"BLOCK": 128})


def test_early_config_prune():
    kernel = FakeKernel()
    seen = {}

    def prune(configs, named_args, **kwargs):
        seen.update(configs=list(configs), named=named_args, kwargs=kwargs)
        return [c for c in configs if c.kwargs["BLOCK"] <= named_args["n"]]

    tuner, timer = tuned(kernel, [128, 256, 512], {128: 2.0, 256: 1.0, 512: 0.5},
                         prune_configs_by={"early_config_prune": prune})
    x, y = FakeTensor([1]), FakeTensor([1])
    tuner[(1,)](x, y, 300, extra_option=1)
    assert timer.timed == [128, 256]
    assert tuner.best_config.kwargs == {"BLOCK": 256}
    assert seen["configs"] == configs(128, 256, 512)
    assert seen["named"] == {"x": x, "y": y, "n": 300}
    assert seen["kwargs"] == {"extra_option": 1}

    tuner[(1,)](x, y, 200)  # one config survives: launched untimed
    assert timer.timed == [128, 256] and tuner.best_config.kwargs == {"BLOCK": 128}


def test_early_config_prune_must_keep_one():
    tuner, _ = tuned(FakeKernel(), [128, 256], {},
                     prune_configs_by={"early_config_prune": lambda configs, named: []})
    with pytest.raises(RuntimeError, match="early_config_prune returned no config"):
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)


@pytest.mark.parametrize("top_k, timed, chosen", [(2, [512, 256], 256), (0.34, [], 512),
                                                   (1.0, [128, 256, 512], 128)])
def test_perf_model_and_top_k(top_k, timed, chosen):
    def perf_model(x, y, n, BLOCK, num_warps, num_stages):
        return n / BLOCK  # bigger blocks look faster

    tuner, timer = tuned(FakeKernel(), [128, 256, 512], {128: 1.0, 256: 2.0, 512: 3.0},
                         prune_configs_by={"perf_model": perf_model, "top_k": top_k})
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 4096)
    assert timer.timed == timed  # a single survivor is launched untimed
    assert tuner.best_config.kwargs["BLOCK"] == chosen


def test_heuristics_see_arguments_and_earlier_values():
    kernel = FakeKernel(arg_names=["x", "n", "BLOCK", "EVEN", "HALF"])
    launcher = tessera.heuristics({
        "EVEN": lambda args: args["n"] % args["BLOCK"] == 0,
        "HALF": lambda args: args["BLOCK"] // 2 if args["EVEN"] else None,
    })(kernel)
    assert launcher.arg_names == kernel.arg_names and launcher.fn is kernel
    assert launcher[(1,)](FakeTensor([1]), 1024, BLOCK=256) == {"BLOCK": 256, "EVEN": True,
                                                                "HALF": 128}
    assert launcher[(1,)](FakeTensor([1]), 1000, BLOCK=256)["EVEN"] is False


def test_heuristics_under_autotune_see_the_config():
    kernel = FakeKernel(arg_names=["x", "y", "n", "BLOCK", "EVEN"])
    stacked = tessera.heuristics({"EVEN": lambda args: args["n"] % args["BLOCK"] == 0})(kernel)
    tuner, timer = tuned(stacked, [128, 384], {128: 2.0, 384: 1.0}, recorder=kernel)
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 768)
    assert [(l["BLOCK"], l["EVEN"]) for l in kernel.launches] == [(128, True), (384, True),
                                                                  (384, True)]
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 640)
    assert kernel.launches[-1]["EVEN"] is False


def test_reset_to_zero_and_restore_value():
    seen = []

    def effect(args):  # accumulates into y, scales x in place
        seen.append((list(args["x"].values), list(args["y"].values)))
        args["y"].values = [v + 1 for v in args["y"].values]
        args["x"].values = [2 * v for v in args["x"].values]

    kernel = FakeKernel(effect=effect)
    tuner, _ = tuned(kernel, [128, 256], {128: 1.0, 256: 2.0}, reset_to_zero=["y"],
                     restore_value=["x"])
    x, y = FakeTensor([1, 2]), FakeTensor([5, 5])
    tuner[(1,)](x, y, 10)
    # each timed run starts from zeroed y and the original x; the real launch too
    assert seen == [([1, 2], [0, 0]), ([1, 2], [0, 0]), ([1, 2], [0, 0])]
    assert x.values == [2, 4] and y.values == [1, 1]


def test_conflicting_meta_parameters():
    tuner, _ = tuned(FakeKernel(), [128, 256], {})
    with pytest.raises(ValueError, match=r"conflicting meta-parameters \['BLOCK'\]"):
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3, BLOCK=64)
    with pytest.raises(ValueError, match=r"conflicting meta-parameters \['num_warps'\]"):
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3, num_warps=8)


@pytest.mark.parametrize("options, error, match", [
    (dict(key=["m"]), ValueError, r"key names \['m'\], which are not parameters"),
    (dict(key="n"), TypeError, "key must be a list"),
    (dict(key=["n"], reset_to_zero=["z"]), ValueError, r"reset_to_zero names \['z'\]"),
    (dict(key=["n"], restore_value=["z"]), ValueError, r"restore_value names \['z'\]"),
    (dict(key=["n"], prune_configs_by={"topk": 2}), ValueError, r"unknown fields \['topk'\]"),
    (dict(key=["n"], prune_configs_by={"top_k": 0}), ValueError, "top_k must be"),
    (dict(key=["n"], warmup=0), ValueError, "warmup must be a positive number"),
    (dict(key=["n"], configs=[{"BLOCK": 1}]), TypeError, "must be tessera.Config objects"),
])
def test_autotune_argument_errors(options, error, match):
    options.setdefault("configs", configs(128))
    with pytest.raises(error, match=match):
        tessera.autotune(**options)(FakeKernel())


def test_heuristics_values_must_be_functions():
    with pytest.raises(TypeError, match=r"\['EVEN'\] are not"):
        tessera.heuristics({"EVEN": True})(FakeKernel())


def resource_error():
    return tessera.TesseraError("kernel 'k' needs 300000 bytes of shared memory per block; the "
                                "device allows at most 232448 (lower num_stages or the block "
                                "sizes)", code=1)


def test_failing_configs_are_skipped_with_the_reason_logged(caplog):
    kernel = FakeKernel(failures={128: tessera.CompilationError("k.py:3: bad block"),
                                  512: resource_error()})
    tuner, timer = tuned(kernel, [128, 256, 512], {256: 1.0})
    with caplog.at_level(logging.INFO, logger="tessera.autotune"):
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)
    assert tuner.best_config.kwargs == {"BLOCK": 256}
    assert timer.timed == [256]
    messages = {r.levelno: r.getMessage() for r in caplog.records}
    assert "does not compile: k.py:3: bad block" in messages[logging.WARNING]
    assert "exceeds the device's resources" in messages[logging.INFO]
    assert "BLOCK: 512" in messages[logging.INFO]


def test_launch_out_of_resources_is_skipped():
    error = tessera.TesseraError("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
                                 code=3)
    tuner, _ = tuned(FakeKernel(failures={128: error}), [128, 256], {256: 1.0})
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)
    assert tuner.best_config.kwargs == {"BLOCK": 256}


def test_every_config_failing_is_a_clear_error():
    kernel = FakeKernel(failures={128: tessera.CompilationError("k.py:3: bad block"),
                                  256: resource_error()})
    tuner, _ = tuned(kernel, [128, 256], {})
    with pytest.raises(RuntimeError, match=r"no config could run for key \(3, 'float16', "
                       r"'float16', 'cuda:0'\)") as info:
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)
    assert "BLOCK: 128, num_warps: 4, num_stages: 3: does not compile" in str(info.value)
    assert "BLOCK: 256, num_warps: 4, num_stages: 3: exceeds the device's resources" in \
        str(info.value)
    assert not tuner.cache


@pytest.mark.parametrize("error", [
    ValueError("a wrong argument"),
    tessera.TesseraError("cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS", code=3),
])
def test_other_failures_propagate(error):
    tuner, _ = tuned(FakeKernel(failures={256: error}), [128, 256], {128: 1.0})
    with pytest.raises(type(error), match=str(error)):
        tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)


@tessera.jit
def fill_kernel(X, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(X + offs, 1.0, mask=offs < n)


class FakeDeviceArray:
    """Device memory as a kernel argument (never dereferenced here: there is no GPU)."""

    __cuda_array_interface__ = {"shape": (100,), "typestr": "<f4", "data": (1 << 20, False),
                                "version": 3}


def test_stacked_on_a_jit_kernel_without_a_gpu():
    """BLOCK=48 fails in the front end (not a power of 2) and is skipped; BLOCK=64 compiles and
    then needs a GPU, which is not the config's fault: that error propagates."""
    calls = []

    def do_bench(kernel_call):
        calls.append(kernel_call)
        kernel_call()
        return 1.0

    tuner = tessera.autotune(configs=configs(48, 64), key=["n"], do_bench=do_bench)(fill_kernel)
    assert isinstance(tuner, Autotuner) and tuner.arg_names == ["X", "n", "BLOCK"]
    assert tuner.fn is fill_kernel and tuner.__name__ == "fill_kernel"
    with pytest.raises(tessera.TesseraError) as info:
        tuner[(1,)](FakeDeviceArray(), 100)
    assert not isinstance(info.value, tessera.CompilationError) and info.value.code != 1
    assert len(calls) == 2
    with pytest.raises(RuntimeError, match=r"launch it with fill_kernel\[grid\]"):
        tuner(FakeDeviceArray(), 100)


def test_progress_on_stderr(monkeypatch, capsys):
    monkeypatch.delenv("TESSERA_QUIET")
    tuner, _ = tuned(FakeKernel(failures={512: resource_error()}), [128, 256, 512],
                     {128: 2.0, 256: 1.0})
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)
    err = capsys.readouterr().err.splitlines()
    prefix = "tessera.autotune: fake_kernel (3, 'float16', 'float16', 'cuda:0'): "
    assert err[0] == prefix + "timing 3 configs"
    assert err[1].startswith(prefix + "best of 2 configs (1 skipped) in ")
    assert err[1].endswith("s: BLOCK: 256, num_warps: 4, num_stages: 3 (1.0000 ms)")


def test_quiet_progress(capsys):
    tuner, _ = tuned(FakeKernel(), [128, 256], {128: 2.0, 256: 1.0})
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 3)
    assert capsys.readouterr().err == ""


# ---- results kept on disk (tessera.runtime.tuning_cache) ----------------------------------------

def entries(root):
    return sorted(root.glob("tuning/*/*/*.json"))


def test_results_persist_and_a_new_tuner_times_nothing(tuning_cache_root):
    times = {128: 2.0, 256: 1.0, 512: 3.0}
    first, timer = tuned(FakeKernel(), [128, 256, 512], times)
    first[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [128, 256, 512]
    assert len(entries(tuning_cache_root)) == 3
    assert all(path.parent.parent.name.startswith("fake_kernel-")
               for path in entries(tuning_cache_root))

    before = tessera.stats()
    second, timer = tuned(FakeKernel(), [128, 256, 512], times)  # as in a new process
    second[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [] and second.best_config.kwargs == {"BLOCK": 256}
    after = tessera.stats()
    assert after["tuning_cache_hits"] - before["tuning_cache_hits"] == 3
    assert after["tuning_runs"] == before["tuning_runs"]

    second[(1,)](FakeTensor([1]), FakeTensor([1]), 11)  # another key: timed
    assert timer.timed == [128, 256, 512]


def test_an_added_config_is_the_only_one_timed():
    first, _ = tuned(FakeKernel(), [128, 256], {128: 2.0, 256: 1.0})
    first[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    second, timer = tuned(FakeKernel(), [128, 256, 64], {128: 2.0, 256: 1.0, 64: 0.5})
    second[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [64] and second.best_config.kwargs == {"BLOCK": 64}
    assert second.configs_timings == {c: t for c, t in zip(configs(128, 256, 64), [2.0, 1.0, 0.5])}


def test_skipped_configs_are_remembered_with_their_reason(caplog):
    kernel = FakeKernel(failures={512: resource_error()})
    first, timer = tuned(kernel, [256, 512], {256: 1.0})
    first[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [256]
    second, timer = tuned(FakeKernel(failures={512: resource_error()}), [256, 512], {256: 1.0})
    second[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [] and second.best_config.kwargs == {"BLOCK": 256}


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "other config"])
def test_a_damaged_entry_is_discarded_and_timed_again(tuning_cache_root, caplog, damage):
    times = {128: 2.0, 256: 1.0}
    first, _ = tuned(FakeKernel(), [128, 256], times)
    first[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    paths = entries(tuning_cache_root)
    victim = next(p for p in paths if '"BLOCK": 256' in p.read_text())
    text = victim.read_text()
    if damage == "truncate":
        victim.write_text(text[: len(text) // 2])
    elif damage == "flip":
        victim.write_text(text.replace('"milliseconds": 1.0', '"milliseconds": 0.1'))
    elif damage == "garbage":
        victim.write_bytes(b"\xff\xfe\x00binary")
    else:  # a valid entry of another config, under this config's name
        other = next(p for p in paths if p != victim)
        victim.write_text(other.read_text())
    second, timer = tuned(FakeKernel(), [128, 256], times)
    with caplog.at_level(logging.WARNING, logger="tessera.autotune"):
        second[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [256] and second.best_config.kwargs == {"BLOCK": 256}
    assert any("discarding the corrupt tuning entry" in r.getMessage() for r in caplog.records)
    assert '"milliseconds": 1.0' in victim.read_text()  # rewritten with the new timing


def test_an_unwritable_cache_warns_once_and_tunes_in_memory(tuning_cache_root, caplog,
                                                            monkeypatch):
    tuning_cache_root.write_text("a file where the cache directory should be")  # even root fails
    monkeypatch.setattr(tuning_cache, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="tessera.autotune"):
        for n in (10, 11):
            tuner, timer = tuned(FakeKernel(), [128, 256], {128: 2.0, 256: 1.0})
            tuner[(1,)](FakeTensor([1]), FakeTensor([1]), n)
            assert timer.timed == [128, 256] and tuner.best_config.kwargs == {"BLOCK": 256}
    warnings = [r.getMessage() for r in caplog.records if "cannot write tuning" in r.getMessage()]
    assert len(warnings) == 1 and str(tuning_cache_root) in warnings[0]


def test_cache_results_false_writes_nothing(tuning_cache_root):
    tuner, timer = tuned(FakeKernel(), [128, 256], {128: 2.0, 256: 1.0}, cache_results=False)
    tuner[(1,)](FakeTensor([1]), FakeTensor([1]), 10)
    assert timer.timed == [128, 256] and entries(tuning_cache_root) == []


def test_kernels_and_compiler_builds_have_their_own_results(monkeypatch):
    class OtherKernel(FakeKernel):
        __name__ = "other_kernel"

    identity = tuning_cache.kernel_identity(FakeKernel())
    assert identity.startswith("fake_kernel-")
    assert tuning_cache.kernel_identity(FakeKernel()) == identity
    assert tuning_cache.kernel_identity(OtherKernel()) != identity
    monkeypatch.setattr(tuning_cache._C, "version", lambda: "0.1.0+another-build")
    assert tuning_cache.kernel_identity(FakeKernel()) != identity
