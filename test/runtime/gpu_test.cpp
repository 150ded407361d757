// The Runtime on a real GPU: loading, launching, shared memory opt-in, JIT error logs, caches
// across runtimes, threads, CUDA C++ kernels compiled by NVRTC. Every test skips itself when no
// CUDA driver or device is found.
#include "runtime/runtime.h"

#include "runtime/nvrtc.h"

#include "test/runtime/fake_compiler.h"
#include "test/runtime/test_kernels.h"
#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

namespace tessera::runtime {
namespace {

class GpuTest : public testing::Test {
protected:
  void SetUp() override {
    StatusOr<const CudaDriver *> loaded = loadCudaDriver();
    if (!loaded.ok())
      GTEST_SKIP() << "no GPU: " << loaded.status().toString();
    driver = *loaded;
    runtime = std::make_unique<Runtime>(test::fakeCompilerHooks(), dir.path());
  }

  KernelSpec spec(const char *ir, int numWarps = 4) {
    KernelSpec spec;
    spec.tileIR = ir;
    spec.numWarps = numWarps;
    spec.numStages = 1;
    return spec; // target left empty: the device's
  }

  // Runs add_one over n floats through `kernel` and checks the result.
  void runAddOne(Runtime &rt, Kernel &kernel, int n) {
    std::vector<float> host(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      host[size_t(i)] = float(i) * 0.5f - 7.0f;
    StatusOr<CUdeviceptr> data = rt.allocate(0, host.size() * sizeof(float));
    ASSERT_TRUE(data.ok()) << data.status().toString();
    ASSERT_TRUE(rt.copyToDevice(0, *data, host.data(), host.size() * sizeof(float)).ok());
    CUdeviceptr pointer = *data;
    int32_t count = n;
    void *args[] = {&pointer, &count};
    Status launched = kernel.launch(uint32_t((n + 127) / 128), 1, 1, nullptr, args, 2);
    ASSERT_TRUE(launched.ok()) << launched.toString();
    ASSERT_TRUE(rt.synchronize(0).ok());
    std::vector<float> result(host.size());
    ASSERT_TRUE(rt.copyToHost(0, result.data(), *data, result.size() * sizeof(float)).ok());
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(result[size_t(i)], host[size_t(i)] + 1.0f) << "at " << i;
    ASSERT_TRUE(rt.deallocate(0, *data).ok());
  }

  const CudaDriver *driver = nullptr;
  test::TempDir dir;
  std::unique_ptr<Runtime> runtime;
};

TEST_F(GpuTest, DevicesAndTargets) {
  StatusOr<int32_t> count = runtime->deviceCount();
  ASSERT_TRUE(count.ok()) << count.status().toString();
  ASSERT_GE(*count, 1);
  StatusOr<std::string> target = runtime->deviceTarget(0);
  ASSERT_TRUE(target.ok()) << target.status().toString();
  std::printf("device 0 target: %s, driver %d\n", target->c_str(), driver->driverVersion);
  EXPECT_EQ(target->rfind("sm_", 0), 0u);

  StatusOr<std::string> missing = runtime->deviceTarget(*count);
  EXPECT_EQ(missing.status().code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(missing.status().message(), "device " + std::to_string(*count) +
                                            " does not exist: this machine has " +
                                            std::to_string(*count) + " CUDA device(s)");
}

TEST_F(GpuTest, PointerDeviceIsTheAllocations) {
  StatusOr<int32_t> count = runtime->deviceCount();
  ASSERT_TRUE(count.ok()) << count.status().toString();
  for (int32_t device = 0; device < *count; ++device) {
    StatusOr<CUdeviceptr> data = runtime->allocate(device, 4096);
    ASSERT_TRUE(data.ok()) << data.status().toString();
    for (CUdeviceptr inside : {*data, *data + 4095}) {
      StatusOr<int32_t> owner = runtime->pointerDevice(inside);
      ASSERT_TRUE(owner.ok()) << owner.status().toString();
      EXPECT_EQ(*owner, device);
    }
    ASSERT_TRUE(runtime->deallocate(device, *data).ok());
  }
  std::vector<float> host(16);
  StatusOr<int32_t> notCuda = runtime->pointerDevice(CUdeviceptr(host.data()));
  EXPECT_EQ(notCuda.status().code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(notCuda.status().message().find(" is not CUDA memory: the driver does not know it"),
            std::string::npos)
      << notCuda.status().message();
}

TEST_F(GpuTest, LaunchesAndCachesInMemory) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  EXPECT_EQ((*kernel)->name(), "add_one");
  EXPECT_EQ((*kernel)->numParams(), 2);
  runAddOne(*runtime, **kernel, 1000);

  StatusOr<Kernel *> again = runtime->getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *kernel);
  // A different num_warps is a different variant.
  StatusOr<Kernel *> eightWarps = runtime->getKernel(spec(test::kAddOnePtx, 8), 0);
  ASSERT_TRUE(eightWarps.ok());
  EXPECT_NE(*eightWarps, *kernel);

  tessera_stats stats = runtime->stats();
  EXPECT_EQ(stats.compiles, 2u);
  EXPECT_EQ(stats.memory_hits, 1u);
  EXPECT_EQ(stats.disk_hits, 0u);
  EXPECT_EQ(stats.launches, 1u);
}

// Tessera works in the device's primary context: the one the CUDA runtime and PyTorch use.
TEST_F(GpuTest, UsesThePrimaryContext) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  CUdevice device;
  ASSERT_EQ(driver->cuDeviceGet(&device, 0), CUDA_SUCCESS);
  CUcontext primary = nullptr, current = nullptr;
  ASSERT_EQ(driver->cuDevicePrimaryCtxRetain(&primary, device), CUDA_SUCCESS);
  ASSERT_EQ(driver->cuCtxGetCurrent(&current), CUDA_SUCCESS);
  EXPECT_EQ(current, primary);
  // A fresh thread, with no current context, can launch too.
  std::thread([&] { runAddOne(*runtime, **kernel, 77); }).join();
  ASSERT_EQ(driver->cuDevicePrimaryCtxRelease(device), CUDA_SUCCESS);
}

TEST_F(GpuTest, LaunchArgumentErrors) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  CUdeviceptr pointer = 0;
  void *args[] = {&pointer};
  Status status = (*kernel)->launch(1, 1, 1, nullptr, args, 1);
  EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(status.message(), "kernel 'add_one' takes 2 arguments, got num_args=1");
  EXPECT_EQ((*kernel)->launch(0, 1, 1, nullptr, args, 2).code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ((*kernel)->launch(1, 1, 1, nullptr, nullptr, 2).code(), TESSERA_INVALID_ARGUMENT);
  void *nullSecond[] = {&pointer, nullptr};
  status = (*kernel)->launch(1, 1, 1, nullptr, nullSecond, 2);
  EXPECT_EQ(status.message(), "args[1] must not be NULL");
  // Grids past the hardware's limits are refused before the driver sees them.
  int32_t n = 0;
  void *both[] = {&pointer, &n};
  status = (*kernel)->launch(1, 1u << 20, 1, nullptr, both, 2);
  EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(status.message(),
            "grid (y, z) = (1048576, 1) is past the limit of 65535 programs in y and in z");
  status = (*kernel)->launch(0x80000000u, 1, 1, nullptr, both, 2);
  EXPECT_EQ(status.message(), "grid x = 2147483648 is past the limit of 2147483647 programs");
  EXPECT_EQ(runtime->stats().launches, 0u);
}

TEST_F(GpuTest, DynamicSharedMemoryAbove48KiB) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kReverseThroughSharedPtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  EXPECT_EQ((*kernel)->sharedBytes(), test::kReverseSharedBytes);
  std::vector<float> host(128);
  for (int i = 0; i < 128; ++i)
    host[size_t(i)] = float(i);
  StatusOr<CUdeviceptr> data = runtime->allocate(0, 128 * sizeof(float));
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE(runtime->copyToDevice(0, *data, host.data(), 128 * sizeof(float)).ok());
  CUdeviceptr pointer = *data;
  void *args[] = {&pointer};
  Status launched = (*kernel)->launch(1, 1, 1, nullptr, args, 1);
  ASSERT_TRUE(launched.ok()) << launched.toString();
  ASSERT_TRUE(runtime->synchronize(0).ok());
  ASSERT_TRUE(runtime->copyToHost(0, host.data(), *data, 128 * sizeof(float)).ok());
  for (int i = 0; i < 128; ++i)
    ASSERT_EQ(host[size_t(i)], float(127 - i)) << "at " << i;
  ASSERT_TRUE(runtime->deallocate(0, *data).ok());
}

TEST_F(GpuTest, SharedMemoryBeyondTheDeviceIsRefused) {
  std::string ir = test::kAddOnePtx;
  ir.replace(ir.find("// shared: 0"), 12, "// shared: 10000000");
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(ir.c_str()), 0);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(kernel.status().message().find("needs 10000000 bytes of shared memory"),
            std::string::npos)
      << kernel.status().message();
}

TEST_F(GpuTest, BrokenPtxReportsTheJitLog) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kBrokenPtx), 0);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), TESSERA_CUDA_ERROR);
  const std::string &message = kernel.status().message();
  std::printf("%s\n", message.c_str());
  EXPECT_EQ(message.rfind("loading kernel 'broken' (ptx) on device 0: cuModuleLoadDataEx failed: "
                          "CUDA_ERROR_INVALID_PTX",
                          0),
            0u)
      << message;
  EXPECT_NE(message.find("JIT error log:"), std::string::npos);
  EXPECT_NE(message.find("this_is_not_an_instruction"), std::string::npos);
}

TEST_F(GpuTest, MissingEntryPointIsNamed) {
  std::string ir = test::kAddOnePtx;
  ir.replace(ir.find("// name: add_one"), 16, "// name: not_there");
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(ir.c_str()), 0);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), TESSERA_CUDA_ERROR);
  EXPECT_NE(kernel.status().message().find("finding kernel 'not_there' (ptx) on device 0 in its "
                                           "module: cuModuleGetFunction failed: "
                                           "CUDA_ERROR_NOT_FOUND"),
            std::string::npos)
      << kernel.status().message();
}

TEST_F(GpuTest, SecondRuntimeLoadsFromDisk) {
  ASSERT_TRUE(runtime->getKernel(spec(test::kAddOnePtx), 0).ok());
  Runtime second(test::fakeCompilerHooks(), dir.path());
  StatusOr<Kernel *> kernel = second.getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  runAddOne(second, **kernel, 300);
  EXPECT_EQ(second.stats().compiles, 0u);
  EXPECT_EQ(second.stats().disk_hits, 1u);
}

TEST_F(GpuTest, ThreadsShareOneKernel) {
  std::vector<Kernel *> kernels(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kernels.size(); ++t)
    threads.emplace_back([&, t] {
      StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kAddOnePtx), 0);
      if (kernel.ok()) {
        kernels[t] = *kernel;
        runAddOne(*runtime, **kernel, 1000);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (Kernel *kernel : kernels)
    EXPECT_EQ(kernel, kernels[0]);
  EXPECT_NE(kernels[0], nullptr);
  EXPECT_EQ(runtime->stats().launches, 8u);
}

// Host cost of a cached launch (design target: about a microsecond), beside the bare
// cuLaunchKernel it wraps. Bursts stay below the driver's queue depth, so that the time measured
// is the host's and not the GPU's. Reported, and only loosely bounded.
TEST_F(GpuTest, LaunchHostCost) {
  StatusOr<Kernel *> kernel = runtime->getKernel(spec(test::kAddOnePtx), 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  StatusOr<CUdeviceptr> data = runtime->allocate(0, 1024 * sizeof(float));
  ASSERT_TRUE(data.ok());
  CUdeviceptr pointer = *data;
  int32_t n = 1024;
  void *args[] = {&pointer, &n};
  constexpr int kBurst = 256;
  auto fastestPerLaunch = [&](auto &&launchOnce) {
    double best = 1e9;
    for (int round = 0; round < 20; ++round) {
      EXPECT_TRUE(runtime->synchronize(0).ok());
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kBurst; ++i)
        launchOnce();
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      best = std::min(best, elapsed.count() / kBurst);
    }
    return best;
  };
  double wrapped = fastestPerLaunch([&] { (void)(*kernel)->launch(8, 1, 1, nullptr, args, 2); });
  double bare = fastestPerLaunch([&] {
    (void)driver->cuLaunchKernel((*kernel)->function(), 8, 1, 1, 128, 1, 1, 0, nullptr, args,
                                 nullptr);
  });
  ASSERT_TRUE(runtime->synchronize(0).ok());
  std::printf("host time per launch: Kernel::launch %.2f us, bare cuLaunchKernel %.2f us\n",
              wrapped * 1e6, bare * 1e6);
  EXPECT_LT(wrapped, 50e-6);
  ASSERT_TRUE(runtime->deallocate(0, *data).ok());
}

// A CUDA C++ kernel compiled by NVRTC: y = a * x + b * SCALE, staged through dynamic shared
// memory, over sizes that are not multiples of the block; the second lookup is a memory hit and a
// second runtime loads the cubin from the disk cache.
TEST_F(GpuTest, CudaSourceKernelComputesAxpb) {
  StatusOr<const Nvrtc *> nvrtc = loadNvrtc();
  if (!nvrtc.ok())
    GTEST_SKIP() << "no NVRTC: " << nvrtc.status().toString();
  const char source[] = R"(
#include <cuda_bf16.h>
extern "C" __global__ void axpb(const float *x, float *y, float a, float b, int n) {
  extern __shared__ float staged[];
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  staged[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  if (i < n)
    y[i] = a * staged[threadIdx.x] + b * SCALE;
}
)";
  CudaSourceSpec cuda;
  cuda.source = source;
  cuda.entry = "axpb";
  cuda.options = {"-DSCALE=2"};
  cuda.numWarps = 8; // 256 threads
  cuda.sharedBytes = 256 * sizeof(float);
  StatusOr<Kernel *> kernel = runtime->getCudaKernel(cuda, 0);
  ASSERT_TRUE(kernel.ok()) << kernel.status().toString();
  EXPECT_EQ((*kernel)->numParams(), 5);
  EXPECT_EQ((*kernel)->name(), "axpb");

  for (int n : {1, 255, 257, 1000003}) {
    std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
      x[size_t(i)] = float((i * 7919) % 1000) * 0.013f - 6.5f;
    const size_t bytes = x.size() * sizeof(float);
    StatusOr<CUdeviceptr> dx = runtime->allocate(0, bytes), dy = runtime->allocate(0, bytes);
    ASSERT_TRUE(dx.ok() && dy.ok());
    ASSERT_TRUE(runtime->copyToDevice(0, *dx, x.data(), bytes).ok());
    std::vector<float> poison(x.size(), std::nanf(""));
    ASSERT_TRUE(runtime->copyToDevice(0, *dy, poison.data(), bytes).ok());
    CUdeviceptr px = *dx, py = *dy;
    float a = 1.75f, b = -0.5f;
    void *args[] = {&px, &py, &a, &b, &n};
    Status launched = (*kernel)->launch(uint32_t((n + 255) / 256), 1, 1, nullptr, args, 5);
    ASSERT_TRUE(launched.ok()) << launched.toString();
    ASSERT_TRUE(runtime->synchronize(0).ok());
    ASSERT_TRUE(runtime->copyToHost(0, y.data(), *dy, bytes).ok());
    for (int i = 0; i < n; ++i) {
      float expected = a * x[size_t(i)] + b * 2.0f;
      ASSERT_NEAR(y[size_t(i)], expected, 1e-6f * (1.0f + std::fabs(expected)))
          << "n = " << n << ", at " << i;
    }
    ASSERT_TRUE(runtime->deallocate(0, *dx).ok());
    ASSERT_TRUE(runtime->deallocate(0, *dy).ok());
  }

  StatusOr<Kernel *> again = runtime->getCudaKernel(cuda, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *kernel);
  tessera_stats stats = runtime->stats();
  EXPECT_EQ(stats.compiles, 1u);
  EXPECT_EQ(stats.memory_hits, 1u);

  Runtime second(test::fakeCompilerHooks(), dir.path());
  StatusOr<Kernel *> fromDisk = second.getCudaKernel(cuda, 0);
  ASSERT_TRUE(fromDisk.ok()) << fromDisk.status().toString();
  EXPECT_EQ(second.stats().disk_hits, 1u);
  EXPECT_EQ(second.stats().compiles, 0u);
}

} // namespace
} // namespace tessera::runtime
