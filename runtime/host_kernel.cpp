#include "runtime/host_kernel.h"

#include <pthread.h>

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace tessera::runtime {
namespace {

// What the programs of the launch running on this thread may touch, the program running, and
// the first refusal.
struct LaunchState {
  const std::vector<HostBuffer> *buffers = nullptr;
  // The kernel's trailing arguments: the program id, then the grid size, along x, y and z.
  int32_t programIdAndGrid[6] = {0, 0, 0, 0, 0, 0};
  bool refused = false;
  std::string message;
};

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
  if (!launch)
    return 0;
  for (const HostBuffer &buffer : *launch->buffers)
    if (inside(buffer, address, bytes))
      return 1;
  if (!launch->refused) {
    launch->refused = true;
    std::ostringstream text;
    const int32_t *id = launch->programIdAndGrid;
    text << "out-of-bounds " << accessName(kind) << " at " << site << " in program (" << id[0]
         << ", " << id[1] << ", " << id[2] << "): " << describeRefusal(*launch, address, bytes);
    launch->message = text.str();
  }
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
  for (ids[2] = 0; ids[2] < ids[5] && !run->launch.refused; ++ids[2])
    for (ids[1] = 0; ids[1] < ids[4] && !run->launch.refused; ++ids[1])
      for (ids[0] = 0; ids[0] < ids[3] && !run->launch.refused; ++ids[0])
        run->program->run(slots.data());
  currentLaunch = nullptr;
  return nullptr;
}

// Blocks are stack buffers: a program of large tiles needs far more than a default stack.
constexpr size_t kProgramStackBytes = size_t(1) << 30;

} // namespace

const std::map<std::string, void *> &hostRuntimeSymbols() {
  static const std::map<std::string, void *> symbols = {
      {"tessera_host_check_access", reinterpret_cast<void *>(&checkAccess)},
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
  if (run.launch.refused)
    return invalidArgument(run.launch.message);
  return Status();
}

} // namespace tessera::runtime
