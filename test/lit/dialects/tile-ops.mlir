// RUN: tessera-opt %s | tessera-opt | FileCheck %s

// Tests that every tile op survives a print/parse round trip in its custom form.
// CHECK-LABEL: func.func @all_ops
func.func @all_ops(%x: !tile.ptr<f32>, %n: i32) attributes {tile.kernel} {
  // CHECK: tile.program_id 0 : i32
  %pid = tile.program_id 0 : i32
  // CHECK: tile.num_programs 2 : i32
  %np = tile.num_programs 2 : i32
  // CHECK: tile.make_range {end = 16 : i32, start = 0 : i32} : tensor<16xi32>
  %r = tile.make_range {start = 0 : i32, end = 16 : i32} : tensor<16xi32>
  // CHECK: tile.splat %{{.*}} : !tile.ptr<f32> -> tensor<16x!tile.ptr<f32>>
  %ps = tile.splat %x : !tile.ptr<f32> -> tensor<16x!tile.ptr<f32>>
  // CHECK: tile.addptr %{{.*}}, %{{.*}} : tensor<16x!tile.ptr<f32>>, tensor<16xi32>
  %p = tile.addptr %ps, %r : tensor<16x!tile.ptr<f32>>, tensor<16xi32>
  %ns = tile.splat %n : i32 -> tensor<16xi32>
  %m = arith.cmpi slt, %r, %ns : tensor<16xi32>
  %zero = arith.constant dense<0.0> : tensor<16xf32>
  // CHECK: tile.load %{{.*}}, %{{.*}}, %{{.*}} : (tensor<16x!tile.ptr<f32>>, tensor<16xi1>, tensor<16xf32>) -> tensor<16xf32>
  %v = tile.load %p, %m, %zero : (tensor<16x!tile.ptr<f32>>, tensor<16xi1>, tensor<16xf32>) -> tensor<16xf32>
  // CHECK: tile.expand_dims %{{.*}} {axis = 1 : i32} : tensor<16xf32> -> tensor<16x1xf32>
  %e = tile.expand_dims %v {axis = 1 : i32} : tensor<16xf32> -> tensor<16x1xf32>
  // CHECK: tile.broadcast %{{.*}} : tensor<16x1xf32> -> tensor<16x16xf32>
  %b = tile.broadcast %e : tensor<16x1xf32> -> tensor<16x16xf32>
  // CHECK: tile.trans %{{.*}} {order = array<i32: 1, 0>} : tensor<16x16xf32> -> tensor<16x16xf32>
  %t = tile.trans %b {order = array<i32: 1, 0>} : tensor<16x16xf32> -> tensor<16x16xf32>
  // CHECK: tile.dot %{{.*}}, %{{.*}}, %{{.*}} {input_precision = "tf32"} : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  %d = tile.dot %b, %t, %b {input_precision = "tf32"} : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  // CHECK: tile.reshape %{{.*}} : tensor<16x16xf32> -> tensor<256xf32>
  %flat = tile.reshape %d : tensor<16x16xf32> -> tensor<256xf32>
  // CHECK: tile.reduce(%{{.*}}) {axis = 0 : i32} : (tensor<256xf32>) -> f32
  // CHECK: tile.reduce.return %{{.*}} : f32
  %s = tile.reduce(%flat) {axis = 0 : i32} : (tensor<256xf32>) -> f32 {
  ^bb0(%a: f32, %c: f32):
    %sum = arith.addf %a, %c : f32
    tile.reduce.return %sum : f32
  }
  // CHECK: tile.store %{{.*}}, %{{.*}}, %{{.*}} : (tensor<16x!tile.ptr<f32>>, tensor<16xf32>, tensor<16xi1>) -> ()
  tile.store %p, %v, %m : (tensor<16x!tile.ptr<f32>>, tensor<16xf32>, tensor<16xi1>) -> ()
  // CHECK: tile.store %{{.*}}, %{{.*}} : (!tile.ptr<f32>, f32) -> ()
  tile.store %x, %s : (!tile.ptr<f32>, f32) -> ()
  return
}

// Tests that tile.hint survives a round trip on scalar pointers and on integer blocks, with
// either fact or both.
// CHECK-LABEL: func.func @hints
func.func @hints(%x: !tile.ptr<f16>, %offs: tensor<64x32xi32>, %n: i64) {
  // CHECK: tile.hint %{{.*}} {divisibility = array<i64: 16>} : !tile.ptr<f16>
  %p = tile.hint %x {divisibility = array<i64: 16>} : !tile.ptr<f16>
  // CHECK: tile.hint %{{.*}} {contiguity = array<i64: 1, 32>, divisibility = array<i64: 1, 16>} : tensor<64x32xi32>
  %o = tile.hint %offs {divisibility = array<i64: 1, 16>, contiguity = array<i64: 1, 32>} : tensor<64x32xi32>
  // CHECK: tile.hint %{{.*}} {contiguity = array<i64: 64, 1>} : tensor<64x32xi32>
  %t = tile.hint %o {contiguity = array<i64: 64, 1>} : tensor<64x32xi32>
  // CHECK: tile.hint %{{.*}} {divisibility = array<i64: 8>} : i64
  %m = tile.hint %n {divisibility = array<i64: 8>} : i64
  return
}

// Tests that a load through a tensor map survives a round trip, its tensor map and coordinates
// after the pointers, mask and other.
// CHECK-LABEL: func.func @tma_load
// CHECK-SAME: %{{.*}}: !tile.tensormap
// CHECK: tile.load %{{.*}}, %{{.*}}, %{{.*}} tma(%{{.*}}[%{{.*}}, %{{.*}}]) : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi1>, tensor<128x64xbf16>, !tile.tensormap, i32, i32) -> tensor<128x64xbf16>
func.func @tma_load(%p: tensor<128x64x!tile.ptr<bf16>>, %m: tensor<128x64xi1>, %z: tensor<128x64xbf16>,
                    %desc: !tile.tensormap, %r: i32, %c: i32) -> tensor<128x64xbf16> {
  %a = tile.load %p, %m, %z tma(%desc[%r, %c]) : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi1>, tensor<128x64xbf16>, !tile.tensormap, i32, i32) -> tensor<128x64xbf16>
  return %a : tensor<128x64xbf16>
}

// Tests that atomics survive a round trip: a masked block read-modify-write with its ordering,
// a scalar one with the default ordering left implicit, and a compare-and-swap.
// CHECK-LABEL: func.func @atomics
// CHECK: tile.atomic_rmw "fadd" %{{.*}}, %{{.*}}, %{{.*}} {scope = "cta", sem = "relaxed"} : (tensor<128x!tile.ptr<f32>>, tensor<128xf32>, tensor<128xi1>) -> tensor<128xf32>
// CHECK: tile.atomic_rmw "max" %{{.*}}, %{{.*}} : (!tile.ptr<i32>, i32) -> i32
// CHECK: tile.atomic_cas %{{.*}}, %{{.*}}, %{{.*}} : (!tile.ptr<i64>, i64, i64) -> i64
func.func @atomics(%p: tensor<128x!tile.ptr<f32>>, %v: tensor<128xf32>, %m: tensor<128xi1>,
                   %q: !tile.ptr<i32>, %i: i32, %l: !tile.ptr<i64>, %c: i64, %n: i64) {
  %a = tile.atomic_rmw "fadd" %p, %v, %m {sem = "relaxed", scope = "cta"} : (tensor<128x!tile.ptr<f32>>, tensor<128xf32>, tensor<128xi1>) -> tensor<128xf32>
  %b = tile.atomic_rmw "max" %q, %i : (!tile.ptr<i32>, i32) -> i32
  %d = tile.atomic_cas %l, %c, %n : (!tile.ptr<i64>, i64, i64) -> i64
  return
}

// Tests that tile.print survives a round trip, with a block and a scalar, and with no values.
// CHECK-LABEL: func.func @prints
// CHECK: tile.print %{{.*}}, %{{.*}} : tensor<4xf32>, i32 {hex = false, is_signed = array<i1: true, false>, prefix = "x, n: "}
// CHECK: tile.print {hex = true, is_signed = array<i1>, prefix = "here"}
func.func @prints(%x: tensor<4xf32>, %n: i32) {
  tile.print %x, %n : tensor<4xf32>, i32 {prefix = "x, n: ", hex = false, is_signed = array<i1: true, false>}
  tile.print {prefix = "here", hex = true, is_signed = array<i1>}
  return
}

// Tests that tile.breakpoint survives a round trip, with a block and a scalar, and with no values.
// CHECK-LABEL: func.func @breakpoints
// CHECK: tile.breakpoint %{{.*}}, %{{.*}} : tensor<4xf32>, i32 {function = "kernel", is_signed = array<i1: true, false>, names = ["x", "n"]}
// CHECK: tile.breakpoint {function = "kernel", is_signed = array<i1>, names = []}
func.func @breakpoints(%x: tensor<4xf32>, %n: i32) {
  tile.breakpoint %x, %n : tensor<4xf32>, i32 {function = "kernel", names = ["x", "n"], is_signed = array<i1: true, false>}
  tile.breakpoint {function = "kernel", names = [], is_signed = array<i1>}
  return
}
