// Host time per launch of a small cached kernel through Tessera's C API, beside a bare
// cuLaunchKernel loop on the same function (the floor). Built and run by bench/bench_launch.py:
//
//   launch_overhead <tile IR file> <num_warps> <calls> <repeats>
//
// The kernel is the tile IR's (its parameters: three float pointers and an i32 count), compiled
// and loaded through the runtime, launched with one program on the legacy default stream and on
// a non-blocking stream. The figures (see timeLaunches) are printed as one JSON line:
//   LAUNCH {"tessera_default_host_us": ..., "bare_stream_sync_us": ..., ...}
// The bare loop loads the same kernel's PTX with cuModuleLoadData in the primary context, which
// the runtime also uses. libcuda is opened with dlopen, so no CUDA header is needed.
#include "runtime/tessera.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, void *, void **, void **);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
};

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "launch_overhead: %s\n", message.c_str());
  std::exit(1);
}

void check(tessera_status_t status, const char *what) {
  if (status) {
    std::string message = tessera_status_message(status);
    tessera_status_free(status);
    fail(std::string(what) + ": " + message);
  }
}

void checkCuda(CUresult result, const char *what) {
  if (result != 0)
    fail(std::string(what) + " failed with CUresult " + std::to_string(result));
}

template <typename F> void bind(void *library, const char *name, F &slot) {
  slot = reinterpret_cast<F>(dlsym(library, name));
  if (!slot)
    fail(std::string("libcuda has no ") + name);
}

Driver openDriver() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library)
    fail("cannot open libcuda.so.1");
  Driver d{};
  bind(library, "cuInit", d.cuInit);
  bind(library, "cuDeviceGet", d.cuDeviceGet);
  bind(library, "cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain);
  bind(library, "cuCtxSetCurrent", d.cuCtxSetCurrent);
  bind(library, "cuModuleLoadData", d.cuModuleLoadData);
  bind(library, "cuModuleGetFunction", d.cuModuleGetFunction);
  bind(library, "cuLaunchKernel", d.cuLaunchKernel);
  bind(library, "cuCtxSynchronize", d.cuCtxSynchronize);
  bind(library, "cuStreamCreate", d.cuStreamCreate);
  return d;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Microseconds per call, medians over `repeats`: {host, one sync}. "host" enqueues `calls`
// launches in bursts of kBurst, synchronising between bursts and timing only the enqueueing:
// the host's cost, without the GPU's pace (a tiny kernel still takes a few microseconds on a
// stream, and a full launch queue would make the host wait for it). "one sync" times `calls`
// launches and the single synchronisation after them.
constexpr int kBurst = 256;

std::pair<double, double> timeLaunches(const std::function<void()> &launch,
                                       const std::function<void()> &synchronize, int calls,
                                       int repeats) {
  using Clock = std::chrono::steady_clock;
  auto micros = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  std::vector<double> host, oneSync;
  for (int warm = 0; warm < 100; ++warm)
    launch();
  synchronize();
  for (int r = 0; r < repeats; ++r) {
    double enqueueing = 0;
    for (int done = 0; done < calls; done += kBurst) {
      Clock::time_point start = Clock::now();
      for (int i = done; i < std::min(calls, done + kBurst); ++i)
        launch();
      enqueueing += micros(Clock::now() - start);
      synchronize();
    }
    host.push_back(enqueueing / calls);
    Clock::time_point start = Clock::now();
    for (int i = 0; i < calls; ++i)
      launch();
    synchronize();
    oneSync.push_back(micros(Clock::now() - start) / calls);
  }
  return {median(host), median(oneSync)};
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 5)
    fail("usage: launch_overhead <tile IR file> <num_warps> <calls> <repeats>");
  std::ifstream file(argv[1]);
  if (!file)
    fail(std::string("cannot read ") + argv[1]);
  std::stringstream text;
  text << file.rdbuf();
  const std::string tileIR = text.str();
  const int numWarps = std::atoi(argv[2]), calls = std::atoi(argv[3]),
            repeats = std::atoi(argv[4]);

  tessera_runtime_t runtime = nullptr;
  check(tessera_runtime_create(&runtime), "tessera_runtime_create");
  char target[32];
  check(tessera_device_target(runtime, 0, target, sizeof target), "tessera_device_target");
  const tessera_compile_options options{target, numWarps, 1, 0};
  tessera_kernel_t kernel = nullptr;
  check(tessera_kernel_get(runtime, tileIR.data(), tileIR.size(), &options, 0, &kernel),
        "tessera_kernel_get");

  constexpr int32_t kCount = 1024;
  uint64_t buffers[3];
  for (uint64_t &buffer : buffers)
    check(tessera_malloc(runtime, 0, kCount * sizeof(float), &buffer), "tessera_malloc");
  int32_t count = kCount;
  void *args[] = {&buffers[0], &buffers[1], &buffers[2], &count};
  const size_t numArgs = sizeof args / sizeof args[0];
  if (tessera_kernel_num_params(kernel) != static_cast<int32_t>(numArgs))
    fail("the kernel takes " + std::to_string(tessera_kernel_num_params(kernel)) +
         " parameters, expected 4 (three pointers and a count)");

  // The floor: the same kernel's PTX, loaded and launched with the driver alone.
  tessera_compiled_t compiled = nullptr;
  check(tessera_compile(tileIR.data(), tileIR.size(), &options, &compiled), "tessera_compile");
  const char *ptx = nullptr;
  size_t ptxSize = 0;
  check(tessera_compiled_stage(compiled, "ptx", &ptx, &ptxSize), "tessera_compiled_stage");
  const std::string ptxText(ptx, ptxSize);
  Driver driver = openDriver();
  checkCuda(driver.cuInit(0), "cuInit");
  CUdevice device = 0;
  checkCuda(driver.cuDeviceGet(&device, 0), "cuDeviceGet");
  CUcontext context = nullptr;
  checkCuda(driver.cuDevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
  checkCuda(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  CUmodule module = nullptr;
  checkCuda(driver.cuModuleLoadData(&module, ptxText.c_str()), "cuModuleLoadData");
  CUfunction function = nullptr;
  checkCuda(driver.cuModuleGetFunction(&function, module,
                                       tessera_compiled_kernel_name(compiled)),
            "cuModuleGetFunction");
  const unsigned threads = 32u * static_cast<unsigned>(numWarps);
  // The legacy default stream synchronises with every other blocking stream at each launch; a
  // non-blocking stream of its own is what a latency-minded embedder would use.
  CUstream stream = nullptr;
  checkCuda(driver.cuStreamCreate(&stream, /*CU_STREAM_NON_BLOCKING=*/1), "cuStreamCreate");
  auto synchronize = [&] { checkCuda(driver.cuCtxSynchronize(), "cuCtxSynchronize"); };

  std::string figures;
  for (auto [name, on] : {std::pair<const char *, CUstream>{"default", nullptr},
                          std::pair<const char *, CUstream>{"stream", stream}}) {
    auto [tesseraHost, tesseraSync] = timeLaunches(
        [&, on = on] {
          check(tessera_kernel_launch(kernel, 1, 1, 1, on, args, numArgs), "launch");
        },
        synchronize, calls, repeats);
    auto [bareHost, bareSync] = timeLaunches(
        [&, on = on] {
          checkCuda(driver.cuLaunchKernel(function, 1, 1, 1, threads, 1, 1, 0, on, args,
                                          nullptr),
                    "cuLaunchKernel");
        },
        synchronize, calls, repeats);
    char line[256];
    std::snprintf(line, sizeof line,
                  "\"tessera_%s_host_us\": %.3f, \"tessera_%s_sync_us\": %.3f, "
                  "\"bare_%s_host_us\": %.3f, \"bare_%s_sync_us\": %.3f, ",
                  name, tesseraHost, name, tesseraSync, name, bareHost, name, bareSync);
    figures += line;
  }

  tessera_stats stats{};
  tessera_runtime_get_stats(runtime, &stats);
  std::printf("LAUNCH {%s\"calls\": %d, \"repeats\": %d, \"launches\": %llu}\n",
              figures.c_str(), calls, repeats, static_cast<unsigned long long>(stats.launches));
  tessera_compiled_free(compiled);
  for (uint64_t buffer : buffers)
    check(tessera_free(runtime, 0, buffer), "tessera_free");
  tessera_runtime_destroy(runtime);
  return 0;
}
