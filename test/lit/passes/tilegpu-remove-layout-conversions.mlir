// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --tilegpu-remove-layout-conversions --canonicalize | FileCheck %s

// Tests that a range feeding expand_dims is recomputed in the slice layout instead of being
// converted through shared memory.
// CHECK: #slice = #tilegpu.slice<dim = 1, parent = #blocked>
// CHECK-LABEL: func.func @row_offsets
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tile.make_range {{.*}} : tensor<32xi32, #slice>
module {
func.func @row_offsets(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 32 : i32} : tensor<32xi32>
  %e = tile.expand_dims %r {axis = 1 : i32} : tensor<32xi32> -> tensor<32x1xi32>
  %b = tile.broadcast %e : tensor<32x1xi32> -> tensor<32x32xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %p = tile.addptr %xs, %b : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  %v = tile.load %p : (tensor<32x32x!tile.ptr<f32>>) -> tensor<32x32xf32>
  tile.store %p, %v : (tensor<32x32x!tile.ptr<f32>>, tensor<32x32xf32>) -> ()
  return
}

// Tests that a row statistic (a reduction, scaled by a splat) and a loaded value, each
// broadcast over a tile, reach the tile's layout by converting before the broadcast (one
// element per row) rather than after it (the whole tile through shared memory).
// CHECK-LABEL: func.func @row_statistics
// CHECK-NOT: tilegpu.convert_layout {{.*}} : tensor<1x128xf32
// CHECK: tile.reduce
// CHECK: tile.broadcast {{.*}} : tensor<1x1xf32, #{{[a-z0-9]+}}> -> tensor<1x128xf32
// CHECK-NOT: tilegpu.convert_layout {{.*}} : tensor<1x128xf32
// CHECK: tile.store
func.func @row_statistics(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %one = arith.constant 1.000000e+00 : f32
  %cols = tile.make_range {end = 128 : i32, start = 0 : i32} : tensor<128xi32>
  %row = tile.expand_dims %cols {axis = 0 : i32} : tensor<128xi32> -> tensor<1x128xi32>
  %first = tile.make_range {end = 1 : i32, start = 0 : i32} : tensor<1xi32>
  %first2 = tile.expand_dims %first {axis = 1 : i32} : tensor<1xi32> -> tensor<1x1xi32>
  %base1 = tile.splat %x : !tile.ptr<f32> -> tensor<1x1x!tile.ptr<f32>>
  %shift_ptr = tile.addptr %base1, %first2 : tensor<1x1x!tile.ptr<f32>>, tensor<1x1xi32>
  %shift = tile.load %shift_ptr : (tensor<1x1x!tile.ptr<f32>>) -> tensor<1x1xf32>
  %base = tile.splat %x : !tile.ptr<f32> -> tensor<1x128x!tile.ptr<f32>>
  %ptrs = tile.addptr %base, %row : tensor<1x128x!tile.ptr<f32>>, tensor<1x128xi32>
  %v = tile.load %ptrs : (tensor<1x128x!tile.ptr<f32>>) -> tensor<1x128xf32>
  %sum = tile.reduce(%v) {axis = 1 : i32} : (tensor<1x128xf32>) -> tensor<1xf32> {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    tile.reduce.return %s : f32
  }
  %shift_row = tile.broadcast %shift : tensor<1x1xf32> -> tensor<1x128xf32>
  %centred = arith.subf %v, %shift_row : tensor<1x128xf32>
  %ones = tile.splat %one : f32 -> tensor<1xf32>
  %inverse = arith.divf %ones, %sum : tensor<1xf32>
  %inverse2 = tile.expand_dims %inverse {axis = 1 : i32} : tensor<1xf32> -> tensor<1x1xf32>
  %scale = tile.broadcast %inverse2 : tensor<1x1xf32> -> tensor<1x128xf32>
  %y = arith.mulf %centred, %scale : tensor<1x128xf32>
  tile.store %ptrs, %y {operandSegmentSizes = array<i32: 1, 1, 0>} : (tensor<1x128x!tile.ptr<f32>>, tensor<1x128xf32>) -> ()
  return
}
}
