// The compiler's entry point, with only standard types so that the runtime (which must not depend
// on MLIR headers) can call it.
#ifndef TESSERA_COMPILER_COMPILER_H
#define TESSERA_COMPILER_COMPILER_H

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::compiler {

struct CompileOptions {
  std::string target = "sm_90a"; // sm_80, sm_86, sm_89, sm_90, sm_90a
  int numWarps = 4;
  int numStages = 3;
  std::string dumpDir; // empty: $TESSERA_DUMP_DIR, if set
};

struct CompiledKernel {
  std::string kernelName;
  int sharedBytes = 0;
  int numWarps = 4;
  int numParams = 0;
  // "tile", "tilegpu", "llir", "ptx" and, when ptxas was found, "cubin".
  std::map<std::string, std::string> stages;
};

// Compiles textual tile IR. On failure returns false and sets *error to a message whose first
// lines carry the source locations ("file:line:col: error: ...") of the diagnostics.
bool compile(const std::string &tileIR, const CompileOptions &options, CompiledKernel *out,
             std::string *error);

// A kernel compiled for this machine's CPU by compileForHost; run() may be called from any thread.
class HostProgram {
public:
  virtual ~HostProgram() = default;
  // Runs one program. `arguments` points to each kernel parameter's value (a pointer as a
  // uint64_t address, a tensor map as a uint64_t that is ignored), then to six int32_t: the
  // program id and the number of programs along x, y and z.
  virtual void run(void **arguments) const = 0;
};

struct HostCompiledKernel {
  std::string kernelName;
  int numParams = 0;
  // "tile", "host" (loops over buffers), "host-llvm" (the LLVM dialect), "host-llir".
  std::map<std::string, std::string> stages;
  std::unique_ptr<HostProgram> program;
};

// Compiles textual tile IR for the host CPU and loads it with LLVM's JIT. The generated code
// calls functions of the runtime by name: `runtimeSymbols` gives their addresses
// (tessera_host_check_access, ...). On failure returns false and sets *error as compile() does.
bool compileForHost(const std::string &tileIR, const std::map<std::string, void *> &runtimeSymbols,
                    HostCompiledKernel *out, std::string *error);

// What a specialisation knows of the value of one kernel parameter.
struct ArgumentFacts {
  int divisibility = 1;   // a multiple of this (pointers: an address aligned to it)
  bool equalsOne = false; // an integer equal to 1
};

// `tileIR` specialised for `facts`, one per kernel parameter, as the Python JIT specialises: a
// parameter known divisible by d > 1 gets the tile.divisibility attribute (which the compiler uses
// to vectorise memory accesses), an integer equal to 1 is replaced by the constant 1 in the body
// (the parameter stays, unused). On failure returns false and sets *error.
bool specializeArguments(const std::string &tileIR, const std::vector<ArgumentFacts> &facts,
                         std::string *out, std::string *error);

// "0.1.0+" and a hash of what decides the generated code: the LLVM version, libdevice, the PTX
// version and the compiler's and dialects' sources (cmake/SourceHash.cmake). Part of every
// kernel's cache key and of persisted tuning results.
const char *compilerVersion();

} // namespace tessera::compiler

#endif
