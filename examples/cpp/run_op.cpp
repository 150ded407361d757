// run_op: runs tessera.ops' mm (out = input @ mat2) in a C++ process with no Python in it.
//
//   run_op BUNDLE [DEVICE]
//
// Reads BUNDLE (make_op_bundle.py builds it: mm in fp16 for M = N = K = 512), lists its op records,
// loads it into a runtime and plans the three mm calls below with describe() for the GPU's target
// (sm_90a without a GPU): the call the bundle lists runs its bundled kernel as is; the others (a
// shape it does not list, mat2 a transposed view) run a kernel compiled in the process from the
// bundle's generic tile IR. Then it runs each call on device DEVICE (default 0) on random inputs,
// checks the output against a host reference and prints the runtime's stats so far, whose compiles
// show which calls compiled.
//
// Exit status: 0 every result correct; 1 a result is wrong; 2 bad usage or a Tessera error (named
// on stderr); 3 no CUDA device (no driver or no GPU): the records and plans are printed, nothing
// is run.
#include <tessera/tessera.hpp>

#include "half.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

// One mm call in fp16: out (M, N) = input (M, K) @ mat2 (K, N), input and out row-major.
struct Call {
  int64_t M, N, K;
  // mat2 given as the transpose of an (N, K) row-major matrix (strides (1, K)), not row-major.
  bool mat2_transposed;

  // "mm M=300 N=200 K=100 fp16": how the output names the call.
  std::string label() const {
    return "mm M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
           " fp16" + (mat2_transposed ? ", mat2 transposed" : "");
  }
  // The call's input, mat2 and out at device addresses a, b and c.
  std::array<tessera::Tensor, 3> tensors(uint64_t a, uint64_t b, uint64_t c) const {
    const tessera::Tensor mat2 = mat2_transposed
                                     ? tessera::Tensor(b, TESSERA_FLOAT16, {N, K}).transposed()
                                     : tessera::Tensor(b, TESSERA_FLOAT16, {K, N});
    return {tessera::Tensor(a, TESSERA_FLOAT16, {M, K}), mat2,
            tessera::Tensor(c, TESSERA_FLOAT16, {M, N})};
  }
};

// The first is the case make_op_bundle.py bundles (keep the two in step); the second is a shape the
// bundle does not list, the third its shape with other strides.
constexpr Call kCalls[] = {{512, 512, 512, false}, {300, 200, 100, false}, {512, 512, 512, true}};

// Stand-ins for device addresses when planning without a GPU: describe() reads only their alignment
// (256 bytes, as cuMemAlloc's) and that out does not overlap the inputs.
constexpr uint64_t kPlanInput = 1ull << 32, kPlanMat2 = 2ull << 32, kPlanOut = 3ull << 32;

// The string value of the first "key" in JSON text, or "?" without one. Enough for the flat
// string fields of op records and plans (kind, dtype, target, kernel, path), which hold no escapes.
std::string json_string(const std::string &json, const std::string &key) {
  const std::string quoted = "\"" + key + "\"";
  size_t at = json.find(quoted);
  if (at == std::string::npos)
    return "?";
  at = json.find_first_not_of(" \n\t:", at + quoted.size());
  if (at == std::string::npos || json[at] != '"')
    return "?";
  const size_t end = json.find('"', at + 1);
  return end == std::string::npos ? "?" : json.substr(at + 1, end - at - 1);
}

// Runs `call` on random inputs and checks out against a float64 reference of the same fp16
// inputs: within an fp32 rounding per accumulated product of |input| @ |mat2|, plus the rounding
// of the output to fp16. Prints the result and the runtime's stats so far.
bool run_call(tessera::Runtime &runtime, const tessera::Op &mm, int32_t device, const Call &call,
              std::mt19937 &random) {
  const int64_t M = call.M, N = call.N, K = call.K;
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<uint16_t> a(M * K), b(K * N), c(M * N, 0x7e00); // c: NaN, caught if never written
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

  const auto [input, mat2, out] = call.tensors(da.pointer(), db.pointer(), dc.pointer());
  mm.launch(device, /*stream: the default*/ nullptr, {input, mat2, out});
  runtime.synchronize(device);
  dc.download(c);

  // The reference reads mat2 through the strides the op was given, into a row-major (K, N) copy.
  std::vector<double> af(a.size()), bf(b.size());
  std::transform(a.begin(), a.end(), af.begin(), from_half);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j)
      bf[k * N + j] = from_half(b[k * mat2.strides[0] + j * mat2.strides[1]]);
  std::vector<double> reference(N), scale(N);
  int64_t wrong = 0;
  double worst = 0; // the largest error as a fraction of its bound
  for (int64_t i = 0; i < M; ++i) {
    std::fill(reference.begin(), reference.end(), 0.0);
    std::fill(scale.begin(), scale.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const double aik = af[i * K + k];
      const double *brow = &bf[k * N];
      for (int64_t j = 0; j < N; ++j) {
        reference[j] += aik * brow[j];
        scale[j] += std::fabs(aik * brow[j]);
      }
    }
    for (int64_t j = 0; j < N; ++j) {
      const double bound = (K + 2) * std::ldexp(1.0, -23) * scale[j] +
                           std::ldexp(1.0, -10) * std::fabs(reference[j]) + 1e-30;
      const double error = std::fabs(double(from_half(c[i * N + j])) - reference[j]);
      if (!(error <= bound)) // NaN, an output never written, is wrong too
        ++wrong;
      else
        worst = std::max(worst, error / bound);
    }
  }

  const tessera_stats stats = runtime.stats();
  std::printf("%s: %s (%lld of %lld outputs off; worst error %.2f of its bound); stats: "
              "compiles=%llu disk_hits=%llu memory_hits=%llu bundle_hits=%llu launches=%llu\n",
              call.label().c_str(), wrong ? "WRONG" : "correct", (long long)wrong,
              (long long)c.size(), worst, (unsigned long long)stats.compiles,
              (unsigned long long)stats.disk_hits, (unsigned long long)stats.memory_hits,
              (unsigned long long)stats.bundle_hits, (unsigned long long)stats.launches);
  return wrong == 0;
}

int run(const char *path, int32_t device) {
  std::printf("tessera %s\n", tessera_version());
  tessera::Runtime runtime;
  tessera::Bundle bundle = tessera::Bundle::read(path);
  const std::vector<tessera::BundledOpRecord> records = bundle.ops();
  std::printf("bundle %s: %zu kernels, %zu op records\n", path, bundle.kernels().size(),
              records.size());
  for (const tessera::BundledOpRecord &record : records) {
    auto field = [&](const char *key) { return json_string(record.record, key); };
    std::printf("  %-8s %-8s %-5s %-7s %s\n", record.op.c_str(), field("kind").c_str(),
                field("dtype").c_str(), field("target").c_str(), field("kernel").c_str());
  }
  runtime.load_bundle(bundle);
  tessera::Op mm = runtime.op("mm");

  // Plans for the device's target; without a device, for make_op_bundle.py's default target.
  std::string no_device; // why there is none; empty with a device
  std::string target = "sm_90a";
  try {
    if (runtime.device_count() == 0)
      no_device = "the driver reports none";
    else
      target = runtime.device_target(device);
  } catch (const tessera::Error &error) {
    if (error.code() != TESSERA_UNAVAILABLE)
      throw;
    no_device = error.what();
  }

  std::printf("plans for %s:\n", target.c_str());
  for (const Call &call : kCalls) {
    const auto [input, mat2, out] = call.tensors(kPlanInput, kPlanMat2, kPlanOut);
    const std::string plan = mm.describe(target, {input, mat2, out});
    std::printf("  %s: path %s kernel %s\n", call.label().c_str(),
                json_string(plan, "path").c_str(), json_string(plan, "kernel").c_str());
  }
  if (!no_device.empty()) {
    std::printf("no CUDA device: %s\n", no_device.c_str());
    return 3;
  }

  std::printf("device %d: %s\n", device, target.c_str());
  std::mt19937 random(20261122);
  bool correct = true;
  for (const Call &call : kCalls)
    correct &= run_call(runtime, mm, device, call, random);
  std::printf("RESULT: %s (%zu calls)\n", correct ? "PASS" : "FAIL", std::size(kCalls));
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
    std::fprintf(stderr, "run_op: %s: %s\n", tessera_status_code_name(error.code()), error.what());
    return 2;
  }
}
