// The compiler's entry point, with only standard types so that the runtime (which must not depend
// on MLIR headers) can call it.
#ifndef TESSERA_COMPILER_COMPILER_H
#define TESSERA_COMPILER_COMPILER_H

#include <map>
#include <string>

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

// "0.1.0+" and a hash of what decides the generated code: the LLVM version, libdevice, the PTX
// version and the compiler's and dialects' sources (cmake/SourceHash.cmake). Part of every
// kernel's cache key and of persisted tuning results.
const char *compilerVersion();

} // namespace tessera::compiler

#endif
