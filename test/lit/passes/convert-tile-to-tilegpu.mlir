// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --split-input-file | FileCheck %s

// Tests that 16-byte aligned, contiguous fp32 accesses get 4 elements per thread, and that every
// value of the kernel shares that layout (no conversions).
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @aligned_copy
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tile.load {{.*}} -> tensor<1024xf32, #blocked>
module {
func.func @aligned_copy(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %y: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  %ys = tile.splat %y : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %q = tile.addptr %ys, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  tile.store %q, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that without alignment facts each thread holds one element at a time.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @unaligned_copy
module {
func.func @unaligned_copy(%x: !tile.ptr<f32>) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  tile.store %p, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that a row reduction yields a slice of its operand's layout and that expand_dims of it
// returns to the parent layout.
// CHECK: #slice = #tilegpu.slice<dim = 1, parent = #blocked>
// CHECK-LABEL: func.func @row_sum
// CHECK: tile.reduce({{.*}}) {axis = 1 : i32} : (tensor<16x64xf32, #blocked>) -> tensor<16xf32, #slice>
// CHECK: tile.expand_dims {{.*}} : tensor<16xf32, #slice> -> tensor<16x1xf32, #blocked>
module {
func.func @row_sum(%x: !tile.ptr<f32>) attributes {tile.kernel} {
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<16x64x!tile.ptr<f32>>
  %v = tile.load %xs : (tensor<16x64x!tile.ptr<f32>>) -> tensor<16x64xf32>
  %s = tile.reduce(%v) {axis = 1 : i32} : (tensor<16x64xf32>) -> tensor<16xf32> {
  ^bb0(%a: f32, %b: f32):
    %c = arith.addf %a, %b : f32
    tile.reduce.return %c : f32
  }
  %e = tile.expand_dims %s {axis = 1 : i32} : tensor<16xf32> -> tensor<16x1xf32>
  %b = tile.broadcast %e : tensor<16x1xf32> -> tensor<16x64xf32>
  tile.store %xs, %b : (tensor<16x64x!tile.ptr<f32>>, tensor<16x64xf32>) -> ()
  return
}
}
