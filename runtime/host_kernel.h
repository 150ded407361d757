// Running kernels compiled for the host CPU (compiler::compileForHost): the grid loop and the
// functions the generated code calls back, which check every global access against the
// launch's buffers.
#ifndef TESSERA_RUNTIME_HOST_KERNEL_H
#define TESSERA_RUNTIME_HOST_KERNEL_H

#include "compiler/Compiler.h"
#include "runtime/status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::runtime {

// Memory a launch lets its kernel touch: accesses outside every buffer are refused and reported.
struct HostBuffer {
  uint64_t address = 0;
  uint64_t bytes = 0;
  std::string name; // for messages: the parameter it was passed as
};

// The runtime functions host kernels call, by name, for compileForHost.
const std::map<std::string, void *> &hostRuntimeSymbols();

// Sets the handler breakpoints call (tessera_host_set_breakpoint_handler).
void setBreakpointHandler(tessera_breakpoint_handler function, void *userData);

// Runs every program of the grid, in order (x fastest), on a thread with a large stack (blocks
// live on the stack). `arguments` points to each parameter's value. Stops after the first
// program that made a refused access and returns an error naming the access, the program and
// the source line, or after the program whose breakpoint handler asked to stop (CANCELLED).
Status launchHostProgram(const compiler::HostProgram &program, const uint32_t grid[3],
                         void *const *arguments, size_t numArguments,
                         const std::vector<HostBuffer> &buffers);

} // namespace tessera::runtime

#endif
