// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --canonicalize | FileCheck %s --check-prefix=FOLD

#blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
#other = #tilegpu.blocked<sizePerThread = [1, 1], threadsPerWarp = [1, 32], warpsPerCTA = [4, 1], order = [1, 0]>

// Tests that layouts and convert_layout round trip, printed under aliases.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
// CHECK: #slice = #tilegpu.slice<dim = 1, parent = #blocked>
// CHECK-LABEL: func.func @layouts
// CHECK-SAME: tensor<16xf32, #slice>
// CHECK: tilegpu.convert_layout %{{.*}} : tensor<16x32xf32, #blocked> -> tensor<16x32xf32, #blocked1>
func.func @layouts(%x: tensor<16x32xf32, #blocked>, %r: tensor<16xf32, #tilegpu.slice<dim = 1, parent = #blocked>>) -> tensor<16x32xf32, #other> {
  %y = tilegpu.convert_layout %x : tensor<16x32xf32, #blocked> -> tensor<16x32xf32, #other>
  return %y : tensor<16x32xf32, #other>
}

// Tests that converting there and back folds away.
// FOLD-LABEL: func.func @round_trip
// FOLD-NOT: tilegpu.convert_layout
// FOLD: return %arg0
func.func @round_trip(%x: tensor<16x32xf32, #blocked>) -> tensor<16x32xf32, #blocked> {
  %y = tilegpu.convert_layout %x : tensor<16x32xf32, #blocked> -> tensor<16x32xf32, #other>
  %z = tilegpu.convert_layout %y : tensor<16x32xf32, #other> -> tensor<16x32xf32, #blocked>
  return %z : tensor<16x32xf32, #blocked>
}
