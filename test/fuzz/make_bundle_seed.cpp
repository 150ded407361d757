// Writes a small valid bundle (two kernels, one tuning record) to argv[1]: the bundle fuzzer's
// seed.
#include "runtime/bundle.h"

#include <cstdio>

int main(int argc, char **argv) {
  using namespace tessera::runtime;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_bundle_seed <output file>\n");
    return 2;
  }
  Bundle bundle;
  bundle.compilerVersion = "0.1.0+seed";
  bundle.description = "fuzzer seed";
  KernelBinary cubin{"matmul_kernel", 65536, 8, 9, BinaryKind::Cubin, std::string(64, '\x7f')};
  KernelBinary ptx{"add_kernel", 0, 4, 4, BinaryKind::Ptx, ".version 8.0\n.target sm_80\n"};
  bundle.kernels.push_back({"matmul_kernel", "module {}", "sm_90a", 8, 4, "k0", cubin});
  bundle.kernels.push_back({"add_kernel", "module {}", "sm_80", 4, 3, "k1", ptx});
  bundle.tuning.push_back({"matmul_kernel-seed", "[4096]", "{\"BLOCK_M\": 128}", 0.25});
  Status status = writeBundleFile(argv[1], bundle);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.toString().c_str());
    return 1;
  }
  return 0;
}
