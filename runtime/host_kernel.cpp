#include "runtime/host_kernel.h"

#include <pthread.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>

namespace tessera::runtime {
namespace {

// What the programs of the launch running on this thread may touch, the program running, and
// why the launch stops after it.
struct LaunchState {
  const std::vector<HostBuffer> *buffers = nullptr;
  // The kernel's trailing arguments: the program id, then the grid size, along x, y and z.
  int32_t programIdAndGrid[6] = {0, 0, 0, 0, 0, 0};
  // The first refused access, or a breakpoint handler's request to stop; OK while none.
  Status stop;
  // Set by a breakpoint handler's request: the program's further accesses are all refused.
  bool cancelled = false;
};

// The process's breakpoint handler (tessera_host_set_breakpoint_handler).
struct BreakpointHandler {
  tessera_breakpoint_handler function = nullptr;
  void *userData = nullptr;
};
std::mutex breakpointHandlerMutex;
BreakpointHandler breakpointHandler;

// "(x, y, z)" of the running program.
std::string programIdText(const LaunchState &launch) {
  const int32_t *id = launch.programIdAndGrid;
  return "(" + std::to_string(id[0]) + ", " + std::to_string(id[1]) + ", " + std::to_string(id[2]) +
         ")";
}

bool inside(const HostBuffer &buffer, uint64_t address, uint64_t bytes) {
  return address >= buffer.address && bytes <= buffer.bytes &&
         address - buffer.address <= buffer.bytes - bytes;
}

thread_local LaunchState *currentLaunch = nullptr;

const char *accessName(int32_t kind) {
  switch (kind) {
  case 0:
    return "load";
  case 1:
    return "store";
  default:
    return "atomic";
  }
}

// "address 0x... (4 bytes) lies 8 bytes past the end of 'X' (0x..., 64 bytes)", naming the
// buffer the access is nearest to.
std::string describeRefusal(const LaunchState &launch, uint64_t address, uint64_t bytes) {
  std::ostringstream text;
  char hex[32];
  std::snprintf(hex, sizeof(hex), "0x%" PRIx64, address);
  text << "address " << hex << " (" << bytes << (bytes == 1 ? " byte)" : " bytes)");
  const HostBuffer *nearest = nullptr;
  uint64_t distance = UINT64_MAX;
  for (const HostBuffer &buffer : *launch.buffers) {
    uint64_t end = buffer.address + buffer.bytes;
    uint64_t d = address < buffer.address ? buffer.address - address
                                          : (address + bytes > end ? address + bytes - end : 0);
    if (d < distance) {
      distance = d;
      nearest = &buffer;
    }
  }
  if (!nearest)
    return text.str() + " is outside the launch's buffers (none were passed)";
  std::snprintf(hex, sizeof(hex), "0x%" PRIx64, nearest->address);
  std::string name = nearest->name.empty() ? std::string("a buffer") : "'" + nearest->name + "'";
  if (address < nearest->address)
    text << " lies " << (nearest->address - address) << " bytes before the start of " << name;
  else
    text << " lies " << (address + bytes - nearest->address - nearest->bytes)
         << " bytes past the end of " << name;
  text << " (" << hex << ", " << nearest->bytes << " bytes)";
  return text.str();
}

// Called by host kernels before every global access: 1 to allow it, 0 to refuse it.
int32_t checkAccess(uint64_t address, uint64_t bytes, int32_t kind, const char *site) {
  LaunchState *launch = currentLaunch;
  if (!launch || launch->cancelled)
    return 0;
  for (const HostBuffer &buffer : *launch->buffers)
    if (inside(buffer, address, bytes))
      return 1;
  if (launch->stop.ok())
    launch->stop = invalidArgument("out-of-bounds " + std::string(accessName(kind)) + " at " +
                                   site + " in program " + programIdText(*launch) + ": " +
                                   describeRefusal(*launch, address, bytes));
  return 0;
}

struct GridRun {
  const compiler::HostProgram *program;
  const uint32_t *grid;
  void *const *arguments;
  size_t numArguments;
  LaunchState launch;
};

void *runGrid(void *opaque) {
  auto *run = static_cast<GridRun *>(opaque);
  currentLaunch = &run->launch;
  std::vector<void *> slots(run->arguments, run->arguments + run->numArguments);
  int32_t *ids = run->launch.programIdAndGrid;
  for (int axis = 0; axis < 3; ++axis)
    ids[3 + axis] = int32_t(run->grid[axis]);
  for (int i = 0; i < 6; ++i)
    slots.push_back(&ids[i]);
  const Status &stop = run->launch.stop;
  for (ids[2] = 0; ids[2] < ids[5] && stop.ok(); ++ids[2])
    for (ids[1] = 0; ids[1] < ids[4] && stop.ok(); ++ids[1])
      for (ids[0] = 0; ids[0] < ids[3] && stop.ok(); ++ids[0])
        run->program->run(slots.data());
  currentLaunch = nullptr;
  return nullptr;
}

// Blocks are stack buffers: a program of large tiles needs far more than a default stack.
constexpr size_t kProgramStackBytes = size_t(1) << 30;

} // namespace

// Called by host kernels for each line of tl.device_print: "pid (x, y, z) idx (i, j) prefix
// a, b" on stdout, flushed, so that it interleaves with the process's other output. Each of the
// `count` elements comes as 64 bits with its format: the low byte of `kinds[k]` is 0 (signed),
// 1 (unsigned), 2 (float: an fp64's bits) or 3 (hexadecimal bits), the element's width in bits
// above it.
void printElements(const char *prefix, int32_t rank, const int64_t *index, int32_t count,
                   const int64_t *bits, const int32_t *kinds) {
  std::string line;
  char text[64];
  if (const LaunchState *launch = currentLaunch) {
    const int32_t *pid = launch->programIdAndGrid;
    std::snprintf(text, sizeof(text), "pid (%d, %d, %d)", pid[0], pid[1], pid[2]);
    line += text;
  }
  if (rank > 0) {
    line += " idx (";
    for (int32_t d = 0; d < rank; ++d)
      line += (d ? ", " : "") + std::to_string(index[d]);
    line += ")";
  }
  line += std::string(" ") + prefix;
  for (int32_t k = 0; k < count; ++k) {
    int32_t width = kinds[k] >> 8;
    uint64_t value = uint64_t(bits[k]);
    switch (kinds[k] & 0xff) {
    case 0:
      std::snprintf(text, sizeof(text), "%" PRId64, bits[k]);
      break;
    case 1:
      std::snprintf(text, sizeof(text), "%" PRIu64, value);
      break;
    case 2: {
      double real;
      std::memcpy(&real, &value, sizeof(real));
      std::snprintf(text, sizeof(text), "%.9g", real);
      break;
    }
    default:
      std::snprintf(text, sizeof(text), "0x%0*" PRIx64, std::max(1, width / 4), value);
    }
    line += (k ? ", " : "") + std::string(text);
  }
  line += "\n";
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}

// Called by host kernels at each breakpoint: the handler gets the `count` values, whose names and
// dtypes are NUL-terminated strings one after another in `names` and `dtypes`, their ranks in
// `ranks`, their shapes one after another in `shapes` and their elements at `addresses`.
void stopAtBreakpoint(const char *file, int32_t line, const char *function, int32_t count,
                      const char *names, const char *dtypes, const int32_t *ranks,
                      const int64_t *shapes, const int64_t *addresses) {
  LaunchState *launch = currentLaunch;
  if (!launch || launch->cancelled)
    return;
  BreakpointHandler handler;
  {
    std::lock_guard<std::mutex> lock(breakpointHandlerMutex);
    handler = breakpointHandler;
  }
  if (!handler.function)
    return;
  std::vector<tessera_breakpoint_value> values(count);
  for (int32_t k = 0; k < count; ++k) {
    values[k] = {names, dtypes, ranks[k], shapes, reinterpret_cast<const void *>(addresses[k])};
    names += std::strlen(names) + 1;
    dtypes += std::strlen(dtypes) + 1;
    shapes += ranks[k];
  }
  const int32_t *id = launch->programIdAndGrid;
  tessera_breakpoint breakpoint{file,          line,         function, {id[0], id[1], id[2]},
                                size_t(count), values.data()};
  if (handler.function(&breakpoint, handler.userData) == 0)
    return;
  launch->cancelled = true;
  if (launch->stop.ok())
    launch->stop = cancelled("the breakpoint handler stopped the launch at " + std::string(file) +
                             ":" + std::to_string(line) + " in program " + programIdText(*launch));
}

void setBreakpointHandler(tessera_breakpoint_handler function, void *userData) {
  std::lock_guard<std::mutex> lock(breakpointHandlerMutex);
  breakpointHandler = {function, userData};
}

const std::map<std::string, void *> &hostRuntimeSymbols() {
  static const std::map<std::string, void *> symbols = {
      {"tessera_host_check_access", reinterpret_cast<void *>(&checkAccess)},
      {"tessera_host_print", reinterpret_cast<void *>(&printElements)},
      {"tessera_host_breakpoint", reinterpret_cast<void *>(&stopAtBreakpoint)},
  };
  return symbols;
}

Status launchHostProgram(const compiler::HostProgram &program, const uint32_t grid[3],
                         void *const *arguments, size_t numArguments,
                         const std::vector<HostBuffer> &buffers) {
  for (int axis = 0; axis < 3; ++axis)
    if (grid[axis] > uint32_t(INT32_MAX))
      return invalidArgument("grid dimension " + std::to_string(axis) + " is " +
                             std::to_string(grid[axis]) + ", more than 2^31 - 1");
  GridRun run{&program, grid, arguments, numArguments, {}};
  run.launch.buffers = &buffers;
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  pthread_attr_setstacksize(&attributes, kProgramStackBytes);
  pthread_t thread;
  int created = pthread_create(&thread, &attributes, &runGrid, &run);
  pthread_attr_destroy(&attributes);
  if (created != 0)
    return internalError("cannot start the thread that runs host programs (pthread_create: " +
                         std::to_string(created) + ")");
  pthread_join(thread, nullptr);
  return run.launch.stop;
}

} // namespace tessera::runtime
