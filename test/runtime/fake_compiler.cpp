// The fake compiler: defines tessera::compiler::compile, compileForHost, specializeArguments and
// compilerVersion for the test binary.
// Its "tile IR" is PTX text whose comment lines give the metadata a real compile would produce:
//   // name: <kernel name>    // params: <count>    // shared: <bytes>    // cubin (optional)
// The PTX passes through as the "ptx" stage. IR containing FAIL is rejected with a diagnostic in
// the compiler's format, so that error propagation can be tested.
#include "test/runtime/fake_compiler.h"

#include "compiler/Compiler.h"

#include <atomic>
#include <sstream>

namespace tessera::compiler {

namespace {
std::atomic<int> compileCalls{0};
} // namespace

bool compile(const std::string &tileIR, const CompileOptions &options, CompiledKernel *out,
             std::string *error) {
  ++compileCalls;
  if (tileIR.find("FAIL") != std::string::npos) {
    *error = "kernel.py:3:5: error: fake compiler rejects this kernel\n    x = tl.load(p)\n";
    return false;
  }
  CompiledKernel kernel;
  kernel.kernelName = "fake_kernel";
  kernel.numWarps = options.numWarps;
  std::istringstream lines(tileIR);
  bool cubin = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("// name: ", 0) == 0)
      kernel.kernelName = line.substr(9);
    else if (line.rfind("// params: ", 0) == 0)
      kernel.numParams = std::stoi(line.substr(11));
    else if (line.rfind("// shared: ", 0) == 0)
      kernel.sharedBytes = std::stoi(line.substr(11));
    else if (line == "// cubin")
      cubin = true;
  }
  kernel.stages["tile"] = tileIR;
  kernel.stages["ptx"] = tileIR;
  if (cubin)
    kernel.stages["cubin"] = std::string("\x7f" "ELF fake cubin\0bytes", 20);
  *out = std::move(kernel);
  return true;
}

namespace {

// The host program compileForHost makes: program x stores x into element x of the int32 buffer
// its parameter points to, after asking the runtime as a compiled kernel does. With
// `breakpoint`, it first stops at a breakpoint at fake.py:6 with `pid` (x, int32) and `row`
// ({x, -x}, a block of two fp32).
class StoreProgramIdProgram final : public HostProgram {
public:
  StoreProgramIdProgram(void *checkAccess, void *breakpoint)
      : check(reinterpret_cast<CheckAccess>(checkAccess)),
        breakpoint(reinterpret_cast<Breakpoint>(breakpoint)) {}
  void run(void **arguments) const override {
    uint64_t base = *static_cast<uint64_t *>(arguments[0]);
    int32_t x = *static_cast<int32_t *>(arguments[1]);
    if (breakpoint) {
      float row[2] = {float(x), -float(x)};
      const int32_t ranks[2] = {0, 1};
      const int64_t shapes[1] = {2};
      const int64_t addresses[2] = {int64_t(reinterpret_cast<uintptr_t>(&x)),
                                    int64_t(reinterpret_cast<uintptr_t>(row))};
      breakpoint("fake.py", 6, "fake_host_kernel", 2, "pid\0row", "int32\0fp32", ranks, shapes,
                 addresses);
    }
    uint64_t address = base + 4 * uint64_t(x);
    if (check(address, 4, /*store*/ 1, "fake.py:7"))
      *reinterpret_cast<int32_t *>(address) = x;
  }

private:
  using CheckAccess = int32_t (*)(uint64_t, uint64_t, int32_t, const char *);
  using Breakpoint = void (*)(const char *, int32_t, const char *, int32_t, const char *,
                              const char *, const int32_t *, const int64_t *, const int64_t *);
  CheckAccess check;
  Breakpoint breakpoint;
};

} // namespace

bool compileForHost(const std::string &tileIR, const std::map<std::string, void *> &runtimeSymbols,
                    HostCompiledKernel *out, std::string *error) {
  if (tileIR.find("FAIL") != std::string::npos) {
    *error = "kernel.py:3:5: error: fake compiler rejects this kernel";
    return false;
  }
  auto check = runtimeSymbols.find("tessera_host_check_access");
  if (check == runtimeSymbols.end()) {
    *error = "error: the runtime gave no tessera_host_check_access";
    return false;
  }
  *out = HostCompiledKernel();
  out->kernelName = "fake_host_kernel";
  out->numParams = 1;
  out->stages["tile"] = tileIR;
  void *breakpoint = nullptr;
  if (tileIR.find("breakpoint") != std::string::npos)
    breakpoint = runtimeSymbols.at("tessera_host_breakpoint");
  out->program = std::make_unique<StoreProgramIdProgram>(check->second, breakpoint);
  return true;
}

// Appends a "// specialised: ..." line (a divisibility per parameter, "=1" for a unit one), so
// that a test can see what was asked.
bool specializeArguments(const std::string &tileIR, const std::vector<ArgumentFacts> &facts,
                         std::string *out, std::string *error) {
  if (tileIR.find("FAIL") != std::string::npos) {
    *error = "error: fake compiler cannot parse this kernel";
    return false;
  }
  *out = tileIR + "\n// specialised:";
  for (const ArgumentFacts &f : facts)
    *out += f.equalsOne ? std::string(" =1") : " " + std::to_string(f.divisibility);
  return true;
}

const char *compilerVersion() { return tessera::test::kFakeCompilerVersion; }

} // namespace tessera::compiler

namespace tessera::test {

int fakeCompileCalls() { return compiler::compileCalls.load(); }

runtime::CompilerHooks fakeCompilerHooks() {
  auto compile = [](const runtime::KernelSpec &spec) -> runtime::StatusOr<runtime::KernelBinary> {
    compiler::CompileOptions options;
    options.target = spec.target;
    options.numWarps = spec.numWarps;
    options.numStages = spec.numStages;
    compiler::CompiledKernel kernel;
    std::string error;
    if (!compiler::compile(std::string(spec.tileIR), options, &kernel, &error))
      return runtime::compileError(error);
    runtime::KernelBinary binary;
    binary.kernelName = kernel.kernelName;
    binary.sharedBytes = kernel.sharedBytes;
    binary.numWarps = kernel.numWarps;
    binary.numParams = kernel.numParams;
    binary.kind = runtime::BinaryKind::Ptx;
    binary.data = kernel.stages["ptx"];
    return binary;
  };
  return runtime::CompilerHooks{kFakeCompilerVersion, compile};
}

} // namespace tessera::test
