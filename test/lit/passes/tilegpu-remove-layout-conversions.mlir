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
}
