// The host-kernel C API over the fake compiler's one program (program x stores x into element x
// of its int32 buffer): launching, the access check against the launch's buffers and its report,
// and breakpoints (the program's variant that stops at one first).
#include "runtime/tessera.h"

#include "test/runtime/test_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::test {
namespace {

constexpr char kHostIR[] = "// host: store program ids";

class HostKernelTest : public ::testing::Test {
protected:
  void SetUp() override {
    Result result(tessera_host_kernel_compile(kHostIR, sizeof(kHostIR) - 1, &kernel));
    ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  }
  void TearDown() override { tessera_host_kernel_free(kernel); }

  // Launches `programs` programs on `out`, of which the kernel may touch `allowed` elements.
  Result launch(std::vector<int32_t> &out, uint32_t programs, size_t allowed) {
    uint64_t address = reinterpret_cast<uint64_t>(out.data());
    void *args[] = {&address};
    tessera_host_buffer buffer{address, allowed * sizeof(int32_t), "out"};
    return Result(tessera_host_kernel_launch(kernel, programs, 1, 1, args, 1, &buffer, 1));
  }

  tessera_host_kernel_t kernel = nullptr;
};

TEST_F(HostKernelTest, RunsEveryProgramOfTheGrid) {
  EXPECT_STREQ(tessera_host_kernel_name(kernel), "fake_host_kernel");
  EXPECT_EQ(tessera_host_kernel_num_params(kernel), 1);
  std::vector<int32_t> out(6, -1);
  Result result = launch(out, 6, out.size());
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST_F(HostKernelTest, OutOfBoundsAccessNamesProgramSourceLineAndBuffer) {
  std::vector<int32_t> out(8, -1);
  Result result = launch(out, 8, 5);
  EXPECT_EQ(result.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(result.message.find("out-of-bounds store at fake.py:7 in program (5, 0, 0)"),
            std::string::npos)
      << result.message;
  EXPECT_NE(result.message.find("lies 4 bytes past the end of 'out'"), std::string::npos)
      << result.message;
  // The refused store was skipped and the launch stopped after that program.
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2, 3, 4, -1, -1, -1}));
}

TEST_F(HostKernelTest, AccessesThatWrapAroundTheAddressSpaceAreRefused) {
  // address + bytes overflows to 2, inside [0, 16): the check must not be fooled by it.
  uint64_t address = UINT64_MAX - 1;
  void *args[] = {&address};
  tessera_host_buffer low{0, 16, "low"};
  Result result(tessera_host_kernel_launch(kernel, 1, 1, 1, args, 1, &low, 1));
  EXPECT_EQ(result.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_NE(result.message.find("out-of-bounds store at fake.py:7 in program (0, 0, 0)"),
            std::string::npos)
      << result.message;
}

TEST_F(HostKernelTest, LaunchValidatesItsArguments) {
  uint64_t address = 0;
  void *args[] = {&address};
  Result count(tessera_host_kernel_launch(kernel, 1, 1, 1, args, 2, nullptr, 0));
  EXPECT_EQ(count.code, TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(count.message, "kernel 'fake_host_kernel' takes 1 arguments, got 2");
  void *missing[] = {nullptr};
  Result null(tessera_host_kernel_launch(kernel, 1, 1, 1, missing, 1, nullptr, 0));
  EXPECT_EQ(null.message, "args[0] must not be NULL");
  Result noKernel(tessera_host_kernel_launch(nullptr, 1, 1, 1, args, 1, nullptr, 0));
  EXPECT_EQ(noKernel.message, "kernel must not be NULL");
}

// What a breakpoint handler saw: one entry per call, and the program at which it asks to stop.
struct BreakpointLog {
  int32_t stopAt = -1;
  std::vector<std::string> calls;
};

// Records "file:line function (x, y, z) name dtype [shape] = values..." per breakpoint.
int32_t recordBreakpoint(const tessera_breakpoint *breakpoint, void *userData) {
  auto *log = static_cast<BreakpointLog *>(userData);
  std::string call = std::string(breakpoint->file) + ":" + std::to_string(breakpoint->line) + " " +
                     breakpoint->function + " (" + std::to_string(breakpoint->program_id[0]) +
                     ", " + std::to_string(breakpoint->program_id[1]) + ", " +
                     std::to_string(breakpoint->program_id[2]) + ")";
  for (size_t k = 0; k < breakpoint->num_values; ++k) {
    const tessera_breakpoint_value &value = breakpoint->values[k];
    call += std::string(" ") + value.name + " " + value.dtype + " [";
    int64_t count = 1;
    for (int32_t d = 0; d < value.rank; ++d) {
      call += (d ? "," : "") + std::to_string(value.shape[d]);
      count *= value.shape[d];
    }
    call += "] =";
    for (int64_t i = 0; i < count; ++i)
      call += " " + (std::string(value.dtype) == "fp32"
                         ? std::to_string(int(static_cast<const float *>(value.data)[i]))
                         : std::to_string(static_cast<const int32_t *>(value.data)[i]));
  }
  log->calls.push_back(call);
  return breakpoint->program_id[0] == log->stopAt ? 1 : 0;
}

class HostBreakpointTest : public HostKernelTest {
protected:
  void SetUp() override {
    const char ir[] = "// host: store program ids after a breakpoint";
    Result result(tessera_host_kernel_compile(ir, sizeof(ir) - 1, &kernel));
    ASSERT_EQ(result.code, TESSERA_OK) << result.message;
    tessera_host_set_breakpoint_handler(&recordBreakpoint, &log);
  }
  void TearDown() override {
    tessera_host_set_breakpoint_handler(nullptr, nullptr);
    HostKernelTest::TearDown();
  }

  BreakpointLog log;
};

TEST_F(HostBreakpointTest, HandlerGetsEachProgramsValues) {
  std::vector<int32_t> out(3, -1);
  Result result = launch(out, 3, out.size());
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(log.calls,
            (std::vector<std::string>{
                "fake.py:6 fake_host_kernel (0, 0, 0) pid int32 [] = 0 row fp32 [2] = 0 0",
                "fake.py:6 fake_host_kernel (1, 0, 0) pid int32 [] = 1 row fp32 [2] = 1 -1",
                "fake.py:6 fake_host_kernel (2, 0, 0) pid int32 [] = 2 row fp32 [2] = 2 -2",
            }));
}

TEST_F(HostBreakpointTest, HandlerStopsTheLaunch) {
  log.stopAt = 1;
  std::vector<int32_t> out(4, -1);
  Result result = launch(out, 4, out.size());
  EXPECT_EQ(result.code, TESSERA_CANCELLED);
  EXPECT_EQ(result.message,
            "the breakpoint handler stopped the launch at fake.py:6 in program (1, 0, 0)");
  // Program 1's store, after its breakpoint, was refused, and no later program ran.
  EXPECT_EQ(out, (std::vector<int32_t>{0, -1, -1, -1}));
  EXPECT_EQ(log.calls.size(), 2u);
}

TEST_F(HostBreakpointTest, BreakpointsDoNothingWithoutAHandler) {
  tessera_host_set_breakpoint_handler(nullptr, nullptr);
  std::vector<int32_t> out(3, -1);
  Result result = launch(out, 3, out.size());
  ASSERT_EQ(result.code, TESSERA_OK) << result.message;
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_TRUE(log.calls.empty());
}

TEST(HostKernelCompile, CompileErrorCarriesTheCompilersMessage) {
  tessera_host_kernel_t kernel = nullptr;
  const char ir[] = "FAIL";
  Result result(tessera_host_kernel_compile(ir, sizeof(ir) - 1, &kernel));
  EXPECT_EQ(result.code, TESSERA_COMPILE_ERROR);
  EXPECT_EQ(result.message, "kernel.py:3:5: error: fake compiler rejects this kernel");
  EXPECT_EQ(kernel, nullptr);
}

} // namespace
} // namespace tessera::test
