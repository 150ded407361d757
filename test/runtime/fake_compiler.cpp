// The fake compiler: defines tessera::compiler::compile, specializeArguments and compilerVersion
// for the test binary.
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
