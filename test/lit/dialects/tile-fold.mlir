// RUN: tessera-opt %s --canonicalize | FileCheck %s

// Tests that a splat of a constant folds to a constant block, and that arith then folds the
// index arithmetic of a unit size through it (a specialised kernel's `% 1`, `// 1` and `* 1`).
// CHECK-LABEL: func.func @unit_size_index
// CHECK-NOT: tile.splat %{{.*}} : i32
// CHECK-NOT: arith.remsi
// CHECK-NOT: arith.divsi
// CHECK-NOT: arith.muli
// CHECK: tile.addptr %{{.*}}, %[[RANGE:.*]] :
func.func @unit_size_index(%x: !tile.ptr<f32>) -> tensor<16xf32> attributes {tile.kernel} {
  %one = arith.constant 1 : i32
  %r = tile.make_range {start = 0 : i32, end = 16 : i32} : tensor<16xi32>
  %ones = tile.splat %one : i32 -> tensor<16xi32>
  %inner = arith.remsi %r, %ones : tensor<16xi32>
  %outer = arith.divsi %r, %ones : tensor<16xi32>
  %scaled = arith.muli %inner, %ones : tensor<16xi32>
  %offset = arith.addi %scaled, %outer : tensor<16xi32>
  %ps = tile.splat %x : !tile.ptr<f32> -> tensor<16x!tile.ptr<f32>>
  %p = tile.addptr %ps, %offset : tensor<16x!tile.ptr<f32>>, tensor<16xi32>
  %v = tile.load %p : (tensor<16x!tile.ptr<f32>>) -> tensor<16xf32>
  return %v : tensor<16xf32>
}

// Tests that a splat of a value that is not a constant stays a splat.
// CHECK-LABEL: func.func @splat_of_an_argument
// CHECK: tile.splat %{{.*}} : i32 -> tensor<16xi32>
func.func @splat_of_an_argument(%n: i32) -> tensor<16xi32> attributes {tile.kernel} {
  %s = tile.splat %n : i32 -> tensor<16xi32>
  return %s : tensor<16xi32>
}
