// run_bundle: runs kernels from a Tessera bundle in a C++ process with no Python in it.
//
//   run_bundle BUNDLE [DEVICE]
//
// Reads BUNDLE (make_bundle.py builds it), lists its kernels, loads it into a runtime and runs each
// kernel below that it holds on device DEVICE (default 0), on random inputs, checking the outputs
// against a reference computed here on the host. A kernel the bundle holds for the device's target
// is taken from it as is; one it holds only for other targets is compiled for the device from its
// tile IR (the runtime's JIT fallback), which the closing stats line shows as compiles.
//
// Exit status: 0 every result correct; 1 a result is wrong; 2 bad usage or a Tessera error (named
// on stderr); 3 no CUDA device (no driver or no GPU): the bundle is listed, nothing is run.
#include <tessera/tessera.hpp>

#include "half.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

// The kernels this program knows, under their names in the bundle. make_bundle.py builds them;
// their parameters and grids are fixed by its cases, and written out here.
//
// vector_add_fp32: examples/vector_add.py's add_kernel, BLOCK=1024, 4 warps.
//   parameters: x, y, out (float*, 16-byte aligned), n (int32)
//   grid: (cdiv(n, 1024), 1, 1)
constexpr char kVectorAdd[] = "vector_add_fp32";
constexpr uint32_t kVectorAddBlock = 1024;
// matmul_fp16: examples/matmul.py's matmul_kernel, C = A @ B for row-major fp16 A (M x K), B (K x N)
// and C (M x N), accumulated in fp32; BLOCK_M = BLOCK_N = 128, BLOCK_K = 64, 8 warps, 3 stages.
// The unit strides (stride_ak, stride_bn, stride_cn) are constants of the kernel, not parameters.
//   parameters: a, b, c (fp16*, 16-byte aligned), M, N, K, stride_am, stride_bk, stride_cm (int32,
//               each a multiple of 16)
//   grid: (cdiv(M, 128), cdiv(N, 128), 1)
constexpr char kMatmul[] = "matmul_fp16";
constexpr uint32_t kMatmulBlockM = 128, kMatmulBlockN = 128;

// Launches timed per kernel, after one untimed launch.
constexpr int kTimedLaunches = 20;

uint32_t cdiv(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

// Seconds per launch of `launch` on the device, over kTimedLaunches launches after a warm-up.
template <typename Launch>
double seconds_per_launch(tessera::Runtime &runtime, int32_t device, Launch &&launch) {
  launch();
  runtime.synchronize(device);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kTimedLaunches; ++i)
    launch();
  runtime.synchronize(device);
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / kTimedLaunches;
}

// out = x + y for n floats; fp32 addition is exact to the same rounding on both sides.
bool run_vector_add(tessera::Runtime &runtime, int32_t device, std::mt19937 &random) {
  tessera::Kernel kernel = runtime.kernel(kVectorAdd, device);
  const int32_t n = 1000003; // not a multiple of the block: the last program is masked
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(n), y(n), out(n, NAN);
  for (int32_t i = 0; i < n; ++i) {
    x[i] = uniform(random);
    y[i] = uniform(random);
  }
  tessera::DeviceBuffer dx = runtime.allocate(n * sizeof(float), device);
  tessera::DeviceBuffer dy = runtime.allocate(n * sizeof(float), device);
  tessera::DeviceBuffer dout = runtime.allocate(n * sizeof(float), device);
  dx.upload(x);
  dy.upload(y);
  dout.upload(out); // NaN: an output the kernel misses is caught below

  const tessera::Grid grid{cdiv(n, kVectorAddBlock)};
  kernel.launch(grid, /*stream: the default*/ nullptr, dx, dy, dout, n);
  runtime.synchronize(device);
  dout.download(out);
  int32_t wrong = 0;
  for (int32_t i = 0; i < n; ++i)
    wrong += !(out[i] == x[i] + y[i]);

  double seconds = seconds_per_launch(runtime, device, [&] {
    kernel.launch(grid, nullptr, dx, dy, dout, n);
  });
  std::printf("%s: n=%d grid=(%u,1,1): %s (%d of %d outputs wrong); %.1f us per launch, "
              "%.1f GB/s\n",
              kVectorAdd, n, grid.x, wrong ? "WRONG" : "correct", wrong, n, seconds * 1e6,
              3.0 * n * sizeof(float) / seconds * 1e-9);
  return wrong == 0;
}

// C = A @ B in fp16, checked against a float64 reference of the same fp16 inputs: within an fp32
// rounding per accumulated product of |A| @ |B|, plus the rounding of the output to fp16.
bool run_matmul(tessera::Runtime &runtime, int32_t device, std::mt19937 &random) {
  tessera::Kernel kernel = runtime.kernel(kMatmul, device);
  const int32_t M = 1024, N = 1024, K = 1024;
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<uint16_t> a(size_t(M) * K), b(size_t(K) * N), c(size_t(M) * N, 0x7e00); // NaN
  for (uint16_t &value : a)
    value = to_half(uniform(random));
  for (uint16_t &value : b)
    value = to_half(uniform(random));
  tessera::DeviceBuffer da = runtime.allocate(a.size() * sizeof(uint16_t), device);
  tessera::DeviceBuffer db = runtime.allocate(b.size() * sizeof(uint16_t), device);
  tessera::DeviceBuffer dc = runtime.allocate(c.size() * sizeof(uint16_t), device);
  da.upload(a);
  db.upload(b);
  dc.upload(c);

  const tessera::Grid grid{cdiv(M, kMatmulBlockM), cdiv(N, kMatmulBlockN)};
  auto launch = [&] {
    kernel.launch(grid, nullptr, da, db, dc, M, N, K, /*stride_am=*/K, /*stride_bk=*/N,
                  /*stride_cm=*/N);
  };
  launch();
  runtime.synchronize(device);
  dc.download(c);

  std::vector<double> af(a.size()), bf(b.size());
  std::transform(a.begin(), a.end(), af.begin(), from_half);
  std::transform(b.begin(), b.end(), bf.begin(), from_half);
  std::vector<double> reference(N), scale(N);
  int64_t wrong = 0;
  double worst = 0; // the largest error as a fraction of its bound
  for (int32_t i = 0; i < M; ++i) {
    std::fill(reference.begin(), reference.end(), 0.0);
    std::fill(scale.begin(), scale.end(), 0.0);
    for (int32_t k = 0; k < K; ++k) {
      const double aik = af[size_t(i) * K + k];
      const double *brow = &bf[size_t(k) * N];
      for (int32_t j = 0; j < N; ++j) {
        reference[j] += aik * brow[j];
        scale[j] += std::fabs(aik * brow[j]);
      }
    }
    for (int32_t j = 0; j < N; ++j) {
      const double bound = (K + 2) * std::ldexp(1.0, -23) * scale[j] +
                           std::ldexp(1.0, -10) * std::fabs(reference[j]) + 1e-30;
      const double error = std::fabs(double(from_half(c[size_t(i) * N + j])) - reference[j]);
      if (!(error <= bound)) // NaN, an output never written, is wrong too
        ++wrong;
      else
        worst = std::max(worst, error / bound);
    }
  }

  double seconds = seconds_per_launch(runtime, device, launch);
  std::printf("%s: M=%d N=%d K=%d grid=(%u,%u,1): %s (%lld of %lld outputs off; worst error "
              "%.2f of its bound); %.1f us per launch, %.1f TFLOP/s\n",
              kMatmul, M, N, K, grid.x, grid.y, wrong ? "WRONG" : "correct", (long long)wrong,
              (long long)c.size(), worst, seconds * 1e6, 2.0 * M * N * K / seconds * 1e-12);
  return wrong == 0;
}

int run(const char *path, int32_t device) {
  std::printf("tessera %s\n", tessera_version());
  tessera::Runtime runtime;
  tessera::Bundle bundle = tessera::Bundle::read(path);
  std::vector<tessera::BundledKernelInfo> kernels = bundle.kernels();
  std::printf("bundle %s: %zu kernels, %lld tuning records\n", path, kernels.size(),
              (long long)bundle.num_tuning());
  for (const tessera::BundledKernelInfo &kernel : kernels)
    std::printf("  %-24s %s\n", kernel.name.c_str(), kernel.target.c_str());
  runtime.load_bundle(bundle);

  int32_t devices = 0;
  try {
    devices = runtime.device_count();
  } catch (const tessera::Error &error) {
    if (error.code() != TESSERA_UNAVAILABLE)
      throw;
    std::printf("no CUDA device: %s\n", error.what());
    return 3;
  }
  if (devices == 0) {
    std::printf("no CUDA device: the driver reports none\n");
    return 3;
  }
  std::printf("device %d of %d: %s\n", device, devices, runtime.device_target(device).c_str());

  std::set<std::string> names;
  for (const tessera::BundledKernelInfo &kernel : kernels)
    names.insert(kernel.name);
  std::mt19937 random(20261122);
  int ran = 0;
  bool correct = true;
  if (names.count(kVectorAdd)) {
    correct &= run_vector_add(runtime, device, random);
    ++ran;
  }
  if (names.count(kMatmul)) {
    correct &= run_matmul(runtime, device, random);
    ++ran;
  }
  if (ran == 0) {
    std::fprintf(stderr, "run_bundle: the bundle holds none of this example's kernels (%s, %s)\n",
                 kVectorAdd, kMatmul);
    return 2;
  }

  tessera_stats stats = runtime.stats();
  std::printf("stats: compiles=%llu disk_hits=%llu memory_hits=%llu bundle_hits=%llu "
              "launches=%llu\n",
              (unsigned long long)stats.compiles, (unsigned long long)stats.disk_hits,
              (unsigned long long)stats.memory_hits, (unsigned long long)stats.bundle_hits,
              (unsigned long long)stats.launches);
  std::printf("RESULT: %s (%d kernels)\n", correct ? "PASS" : "FAIL", ran);
  return correct ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s BUNDLE [DEVICE]\n", argv[0]);
    return 2;
  }
  try {
    return run(argv[1], argc == 3 ? std::atoi(argv[2]) : 0);
  } catch (const tessera::Error &error) {
    std::fflush(stdout);
    std::fprintf(stderr, "run_bundle: %s: %s\n", tessera_status_code_name(error.code()),
                 error.what());
    return 2;
  }
}
