// RUN: tessera-opt %s --inline | FileCheck %s

// Tests that a helper using tile ops is inlined into the kernel that calls it.
// CHECK-LABEL: func.func @kernel
// CHECK-NOT: call
// CHECK: tile.program_id 0
func.func private @pid_times(%k: i32) -> i32 {
  %p = tile.program_id 0 : i32
  %r = arith.muli %p, %k : i32
  return %r : i32
}
func.func @kernel(%x: !tile.ptr<i32>, %k: i32) attributes {tile.kernel} {
  %v = call @pid_times(%k) : (i32) -> i32
  tile.store %x, %v : (!tile.ptr<i32>, i32) -> ()
  return
}
