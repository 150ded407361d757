// Kernel identity (keys) and option validation.
#include "runtime/kernel_spec.h"

#include <gtest/gtest.h>

#include <set>

namespace tessera::runtime {
namespace {

KernelSpec baseSpec() {
  KernelSpec spec;
  spec.tileIR = "tile.func @k() {}";
  spec.target = "sm_90a";
  spec.numWarps = 4;
  spec.numStages = 3;
  spec.flags = 0;
  return spec;
}

// Pins the key encoding. The expected value was computed independently, with Python's hashlib
// over the documented encoding; if this changes, every existing cache entry is orphaned.
TEST(KernelKey, MatchesIndependentlyComputedValue) {
  EXPECT_EQ(kernelKey(baseSpec(), "0.1.0"),
            "ee12d24c3dbe77b52186cdaad62b790a1a308b0e6cb35d51b35a0f433e98de5f");
}

TEST(KernelKey, IsLowerCaseHexOf64Characters) {
  std::string key = kernelKey(baseSpec(), "0.1.0");
  ASSERT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(kernelKey(baseSpec(), "0.1.0"), key); // deterministic
}

TEST(KernelKey, EveryFieldChangesTheKey) {
  std::set<std::string> keys;
  keys.insert(kernelKey(baseSpec(), "0.1.0"));

  KernelSpec spec = baseSpec();
  spec.tileIR = "tile.func @k() { }";
  keys.insert(kernelKey(spec, "0.1.0"));
  spec = baseSpec();
  spec.numWarps = 8;
  keys.insert(kernelKey(spec, "0.1.0"));
  spec = baseSpec();
  spec.numStages = 4;
  keys.insert(kernelKey(spec, "0.1.0"));
  spec = baseSpec();
  spec.target = "sm_90";
  keys.insert(kernelKey(spec, "0.1.0"));
  spec = baseSpec();
  spec.flags = 1;
  keys.insert(kernelKey(spec, "0.1.0"));
  keys.insert(kernelKey(baseSpec(), "0.1.1"));

  EXPECT_EQ(keys.size(), 7u);
}

// Fields are length-prefixed: moving bytes from one field to the next changes the key.
TEST(KernelKey, FieldBoundariesAreUnambiguous) {
  KernelSpec a = baseSpec(), b = baseSpec();
  a.numWarps = 1;
  a.numStages = 12;
  b.numWarps = 11;
  b.numStages = 2;
  EXPECT_NE(kernelKey(a, "0.1.0"), kernelKey(b, "0.1.0"));

  std::string irWithVersion = std::string(baseSpec().tileIR) + "0.1.0";
  KernelSpec c = baseSpec();
  c.tileIR = irWithVersion;
  EXPECT_NE(kernelKey(c, ""), kernelKey(baseSpec(), "0.1.0"));
}

// Tests that source locations (which name the file a kernel was written in) leave the key alone,
// so a bundle built at one path serves a process whose kernels live at another.
TEST(KernelKey, IgnoresSourceLocations) {
  std::string here = "%0 = \"arith.constant\"() {value = 1 : i32} : () -> i32 loc(\"/a/k.py\":3:4)\n"
                     "tile.func @k() {} loc(fused[\"/a/k.py\":1:0, callsite(\"x\"(\"y\":1:2))])";
  std::string there = "%0 = \"arith.constant\"() {value = 1 : i32} : () -> i32 loc(\"/b/k.py\":3:4)\n"
                      "tile.func @k() {} loc(\"/b/k.py\":1:0)";
  EXPECT_EQ(withoutLocations(here), withoutLocations(there));
  KernelSpec a = baseSpec(), b = baseSpec();
  a.tileIR = here;
  b.tileIR = there;
  EXPECT_EQ(kernelKey(a, "0.1.0"), kernelKey(b, "0.1.0"));
}

// Tests that only locations go: "loc(" inside a string literal, or ending a longer name, stays.
TEST(KernelKey, KeepsLocationTextThatIsNotALocation) {
  EXPECT_EQ(withoutLocations("{name = \"loc(\\\"x\\\")\"} alloc(%0)"),
            "{name = \"loc(\\\"x\\\")\"} alloc(%0)");
  KernelSpec a = baseSpec(), b = baseSpec();
  a.tileIR = "{name = \"loc(1)\"}";
  b.tileIR = "{name = \"loc(2)\"}";
  EXPECT_NE(kernelKey(a, "0.1.0"), kernelKey(b, "0.1.0"));
}

TEST(Targets, FromComputeCapability) {
  EXPECT_EQ(targetForComputeCapability(8, 0), "sm_80");
  EXPECT_EQ(targetForComputeCapability(8, 6), "sm_86");
  EXPECT_EQ(targetForComputeCapability(8, 9), "sm_89");
  EXPECT_EQ(targetForComputeCapability(9, 0), "sm_90a");
  EXPECT_EQ(targetForComputeCapability(12, 0), "sm_120");
}

TEST(Targets, Known) {
  for (const char *target : {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"})
    EXPECT_TRUE(isKnownTarget(target)) << target;
  for (const char *target : {"", "sm_70", "sm_90A", "sm_100", "compute_90"})
    EXPECT_FALSE(isKnownTarget(target)) << target;
}

TEST(Validation, AcceptsGoodOptions) {
  KernelSpec spec = baseSpec();
  for (int warps : {1, 2, 4, 8, 16, 32}) {
    spec.numWarps = warps;
    EXPECT_TRUE(validateKernelSpec(spec).ok()) << warps;
  }
}

// Each message names the argument and the bad value.
TEST(Validation, MessagesNameTheArgument) {
  KernelSpec spec = baseSpec();
  spec.target = "sm_75";
  Status status = validateKernelSpec(spec);
  EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT);
  EXPECT_EQ(status.message(), "options.target 'sm_75' is not a known target (sm_80, sm_86, sm_89, "
                              "sm_90, sm_90a)");

  for (int warps : {0, 3, 64, -4}) {
    spec = baseSpec();
    spec.numWarps = warps;
    status = validateKernelSpec(spec);
    EXPECT_EQ(status.code(), TESSERA_INVALID_ARGUMENT);
    EXPECT_EQ(status.message(), "options.num_warps must be a power of two from 1 to 32, got " +
                                    std::to_string(warps));
  }

  spec = baseSpec();
  spec.numStages = 0;
  EXPECT_EQ(validateKernelSpec(spec).message(), "options.num_stages must be at least 1, got 0");

  spec = baseSpec();
  spec.flags = 2;
  EXPECT_EQ(validateKernelSpec(spec).message(), "options.flags is reserved and must be 0, got 2");
}

TEST(Validation, FromCArguments) {
  tessera_compile_options options{"sm_80", 4, 2, 0};
  const char ir[] = "tile IR";

  StatusOr<KernelSpec> spec = kernelSpecFromC(ir, sizeof(ir) - 1, &options, true);
  ASSERT_TRUE(spec.ok()) << spec.status().toString();
  EXPECT_EQ(spec->tileIR, "tile IR");
  EXPECT_EQ(spec->target, "sm_80");
  EXPECT_EQ(spec->numStages, 2);

  EXPECT_EQ(kernelSpecFromC(nullptr, 3, &options, true).status().message(),
            "tile_ir must not be NULL");
  EXPECT_EQ(kernelSpecFromC(ir, 0, &options, true).status().message(),
            "tile_ir_size must be > 0 (tile_ir is empty)");
  EXPECT_EQ(kernelSpecFromC(ir, 3, nullptr, true).status().message(), "options must not be NULL");

  options.target = nullptr;
  EXPECT_EQ(kernelSpecFromC(ir, 3, &options, true).status().message(),
            "options.target must be set (one of sm_80, sm_86, sm_89, sm_90, sm_90a)");
  // Without a required target the other fields are still checked.
  spec = kernelSpecFromC(ir, 3, &options, false);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->target, "");
  options.num_stages = 0;
  EXPECT_EQ(kernelSpecFromC(ir, 3, &options, false).status().code(), TESSERA_INVALID_ARGUMENT);
}

} // namespace
} // namespace tessera::runtime
