// RUN: tessera-opt %s --inline | FileCheck %s
// func.call is inlinable (the func dialect's inliner extension is registered) and the dead
// private callee is dropped.

// CHECK-NOT: func.func private @helper
// CHECK-LABEL: func.func @kernel
// CHECK: %[[PID:.*]] = tile.program_id 0 : i32
// CHECK: %[[SUM:.*]] = arith.addi %[[PID]], %[[PID]] : i32
// CHECK: tile.addptr %{{.*}}, %[[SUM]]
// CHECK-NOT: call
func.func private @helper(%a: i32, %b: i32) -> i32 {
  %c = arith.addi %a, %b : i32
  return %c : i32
}
func.func @kernel(%p: !tile.ptr<f32>) attributes {tile.kernel} {
  %pid = tile.program_id 0 : i32
  %q = func.call @helper(%pid, %pid) : (i32, i32) -> i32
  %r = tile.addptr %p, %q : !tile.ptr<f32>, i32
  %v = tile.load %r : (!tile.ptr<f32>) -> f32
  tile.store %r, %v : (!tile.ptr<f32>, f32) -> ()
  return
}
