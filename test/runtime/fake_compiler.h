// A stand-in for tessera::compiler, so the runtime tests need no LLVM/MLIR (see fake_compiler.cpp).
#ifndef TESSERA_TEST_RUNTIME_FAKE_COMPILER_H
#define TESSERA_TEST_RUNTIME_FAKE_COMPILER_H

#include "runtime/runtime.h"

namespace tessera::test {

inline constexpr const char kFakeCompilerVersion[] = "0.1.0-fake";
// How many times the fake compiler ran in this process.
int fakeCompileCalls();
// The fake compiler as CompilerHooks, for tests of the Runtime class.
runtime::CompilerHooks fakeCompilerHooks();

} // namespace tessera::test

#endif
