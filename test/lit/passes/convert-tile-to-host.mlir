// RUN: tessera-opt %s --convert-tile-to-host --split-input-file --verify-diagnostics | FileCheck %s

// Tests that the kernel takes its pointers as i64 addresses plus the program id and grid size
// (six i32), that a masked load checks each access it makes with the runtime and falls back to
// `other`, and that the store checks too.
// CHECK: llvm.mlir.global internal constant @tessera_string_{{[0-9]+}}("kernel.py:7\00")
// CHECK: func.func private @tessera_host_check_access(i64, i64, i32, !llvm.ptr) -> i32
// CHECK-LABEL: func.func @masked_copy
// CHECK-SAME: (%{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32)
// CHECK: memref.alloca() : memref<64xi32>
// CHECK: scf.for
// CHECK: scf.if %{{.*}} -> (f32)
// CHECK: func.call @tessera_host_check_access(%{{.*}}, %c4_i64, %c0_i32, %{{.*}})
// CHECK: llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK: func.call @tessera_host_check_access(%{{.*}}, %c4_i64, %c1_i32, %{{.*}})
// CHECK: llvm.store
module {
func.func @masked_copy(%x: !tile.ptr<f32>, %y: !tile.ptr<f32>, %n: i32) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  %ns = tile.splat %n : i32 -> tensor<64xi32>
  %m = arith.cmpi slt, %r, %ns : tensor<64xi32>
  %zero = arith.constant dense<0.0> : tensor<64xf32>
  %v = tile.load %p, %m, %zero : (tensor<64x!tile.ptr<f32>>, tensor<64xi1>, tensor<64xf32>) -> tensor<64xf32> loc("kernel.py":7:9)
  %ys = tile.splat %y : !tile.ptr<f32> -> tensor<64x!tile.ptr<f32>>
  %q = tile.addptr %ys, %r : tensor<64x!tile.ptr<f32>>, tensor<64xi32>
  tile.store %q, %v, %m : (tensor<64x!tile.ptr<f32>>, tensor<64xf32>, tensor<64xi1>) -> ()
  return
}
}

// -----

// Tests that a loop carrying a block alternates between two buffers allocated before it, copies
// each iteration's yield into the one it did not read, and frees the body's buffers by restoring
// the stack pointer.
// CHECK-LABEL: func.func @carried
// CHECK: scf.for
// CHECK: scf.for
// CHECK: %[[EVEN:.*]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ODD:.*]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %true = arith.constant true
// CHECK-NEXT: scf.for {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[WRITE_EVEN:.*]] = %true)
// CHECK: %[[TARGET:.*]] = arith.select %[[WRITE_EVEN]], %[[EVEN]], %[[ODD]]
// CHECK: %[[STACK:.*]] = llvm.intr.stacksave : !llvm.ptr
// CHECK: memref.copy %{{.*}}, %[[TARGET]]
// CHECK: llvm.intr.stackrestore %[[STACK]]
// CHECK: scf.yield %[[TARGET]], %{{.*}} : memref<16xf32>, i1
module {
func.func @carried(%out: !tile.ptr<f32>, %n: i32) attributes {tile.kernel} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %one = arith.constant dense<1.0> : tensor<16xf32>
  %init = arith.constant dense<0.0> : tensor<16xf32>
  %sum = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %init) -> (tensor<16xf32>) : i32 {
    %next = arith.addf %acc, %one : tensor<16xf32>
    scf.yield %next : tensor<16xf32>
  }
  %r = tile.make_range {start = 0 : i32, end = 16 : i32} : tensor<16xi32>
  %outs = tile.splat %out : !tile.ptr<f32> -> tensor<16x!tile.ptr<f32>>
  %p = tile.addptr %outs, %r : tensor<16x!tile.ptr<f32>>, tensor<16xi32>
  tile.store %p, %sum : (tensor<16x!tile.ptr<f32>>, tensor<16xf32>) -> ()
  return
}
}

// -----

// Tests that a row reduction folds along its axis through the combiner region, first to last.
// CHECK-LABEL: func.func @row_sums
// CHECK: %[[SUMS:.*]] = memref.alloca() : memref<8xf32>
// CHECK: scf.for %[[ROW:.*]] =
// CHECK: %[[FIRST:.*]] = memref.load %{{.*}}[%[[ROW]], %{{.*}}] : memref<8x32xf32>
// CHECK: %[[TOTAL:.*]] = scf.for %[[COL:.*]] = %{{.*}} iter_args(%[[PARTIAL:.*]] = %[[FIRST]]) -> (f32)
// CHECK: %[[X:.*]] = memref.load %{{.*}}[%[[ROW]], %[[COL]]]
// CHECK: %[[ADDED:.*]] = arith.addf %[[PARTIAL]], %[[X]] : f32
// CHECK: scf.yield %[[ADDED]]
// CHECK: memref.store %[[TOTAL]], %[[SUMS]][%[[ROW]]]
module {
func.func @row_sums(%x: tensor<8x32xf32>) attributes {tile.kernel} {
  %s = tile.reduce(%x) {axis = 1 : i32} : (tensor<8x32xf32>) -> tensor<8xf32> {
  ^bb0(%a: f32, %b: f32):
    %c = arith.addf %a, %b : f32
    tile.reduce.return %c : f32
  }
  return
}
}

// -----

// Tests that a masked atomic checks each element it applies as an atomic access (kind 2) and
// applies it with an LLVM atomic of its ordering, and that a compare-and-swap on floats swaps
// their bits.
// CHECK-LABEL: func.func @atomics
// CHECK: scf.for
// CHECK: scf.if %{{.*}} -> (i32)
// CHECK: func.call @tessera_host_check_access(%{{.*}}, %c4_i64{{.*}}, %c2_i32{{.*}}, %{{.*}})
// CHECK: llvm.atomicrmw max %{{.*}}, %{{.*}} monotonic : !llvm.ptr, i32
// CHECK: call @tessera_host_check_access(%{{.*}}, %c4_i64{{.*}}, %c2_i32{{.*}}, %{{.*}})
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: llvm.cmpxchg %{{.*}}, %{{.*}}, %{{.*}} acq_rel acquire : !llvm.ptr, i32
// CHECK: arith.bitcast %{{.*}} : i32 to f32
module {
func.func @atomics(%p: tensor<4x!tile.ptr<i32>>, %v: tensor<4xi32>, %m: tensor<4xi1>,
                   %q: !tile.ptr<f32>, %c: f32, %n: f32) attributes {tile.kernel} {
  %a = tile.atomic_rmw "max" %p, %v, %m {sem = "relaxed"} : (tensor<4x!tile.ptr<i32>>, tensor<4xi32>, tensor<4xi1>) -> tensor<4xi32>
  %b = tile.atomic_cas %q, %c, %n : (!tile.ptr<f32>, f32, f32) -> f32
  return
}
}

// -----

// Tests that a signed division cannot trap: a zero or -1 divisor becomes 1, and a division by -1
// gives the negated dividend.
// CHECK-LABEL: func.func @division
// CHECK: %[[MINUS_ONE:.*]] = arith.cmpi eq, %[[D:.*]], %c-1_i32
// CHECK: %[[ZERO:.*]] = arith.cmpi eq, %[[D]], %c0_i32
// CHECK: %[[UNSAFE:.*]] = arith.ori %[[ZERO]], %[[MINUS_ONE]]
// CHECK: %[[SAFE:.*]] = arith.select %[[UNSAFE]], %c1_i32, %[[D]]
// CHECK: %[[Q:.*]] = arith.divsi %[[X:.*]], %[[SAFE]] : i32
// CHECK: %[[NEG:.*]] = arith.subi %c0_i32{{.*}}, %[[X]]
// CHECK: arith.select %[[MINUS_ONE]], %[[NEG]], %[[Q]]
module {
func.func @division(%x: i32, %d: i32, %o: !tile.ptr<i32>) attributes {tile.kernel} {
  %q = arith.divsi %x, %d : i32
  tile.store %o, %q : (!tile.ptr<i32>, i32) -> ()
  return
}
}

// -----

// Tests that tile.print calls the runtime once per element index, with the index, each
// element as 64 bits (floats as fp64) and its format (0x2002: a 32-bit float; 0x2000: a signed
// 32-bit integer).
// CHECK-LABEL: func.func @print
// CHECK-DAG: %[[FLOAT:.*]] = arith.constant 8194 : i32
// CHECK-DAG: %[[SIGNED:.*]] = arith.constant 8192 : i32
// CHECK: scf.for
// CHECK: arith.extf %{{.*}} : f32 to f64
// CHECK: arith.extsi %{{.*}} : i32 to i64
// CHECK: call @tessera_host_print(%{{.*}}, %c1_i32, %{{.*}}, %c2_i32, %{{.*}}, %{{.*}})
module {
func.func @print(%x: tensor<4xf32>, %n: i32) attributes {tile.kernel} {
  tile.print %x, %n : tensor<4xf32>, i32 {prefix = "x, n: ", hex = false, is_signed = array<i1: true, true>}
  return
}
}

// -----

// Tests that tile.breakpoint makes one runtime call with the values' addresses: the block's
// buffer as it is, the scalar stored to a buffer of one element; with the source position, the
// function, the value count, and the ranks.
// CHECK-LABEL: func.func @breakpoint
// CHECK: %[[CELL:.*]] = memref.alloca() : memref<1xi32>
// CHECK: memref.store %{{.*}}, %[[CELL]]
// CHECK: memref.extract_aligned_pointer_as_index %[[CELL]]
// CHECK: call @tessera_host_breakpoint(%{{.*}}, %c7_i32, %{{.*}}, %c2_i32, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
module {
func.func @breakpoint(%x: tensor<4xf32>, %n: i32) attributes {tile.kernel} {
  tile.breakpoint %x, %n : tensor<4xf32>, i32 {function = "kernel", names = ["x", "n"], is_signed = array<i1: true, true>} loc("kernel.py":7:4)
  return
}
}

// -----

// Tests that an op the host lowering does not know is reported, not dropped.
module {
func.func private @helper()
func.func @unknown(%x: i32) attributes {tile.kernel} {
  // expected-error @+1 {{cannot be lowered for the host: 'func.call' is not supported by convert-tile-to-host}}
  func.call @helper() : () -> ()
  return
}
}
