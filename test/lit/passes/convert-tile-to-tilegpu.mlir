// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --split-input-file | FileCheck %s
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --split-input-file | FileCheck %s --check-prefix=HOPPER

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

// -----

// Tests that a wgmma result is stored from the warp-local store layout: each warp keeps its 16
// rows of the mma layout, each thread holds 4 rows of 8 bf16 (16 bytes).
// HOPPER-DAG: #[[MMA:.*]] = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64>
// HOPPER-DAG: #[[STORE:.*]] = #tilegpu.blocked<sizePerThread = [4, 8], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
// HOPPER-LABEL: func.func @dot_store
// HOPPER: tilegpu.warpgroup_dot
// HOPPER: arith.truncf {{.*}} : tensor<64x64xf32, #[[MMA]]> to tensor<64x64xbf16, #[[MMA]]>
// HOPPER: tilegpu.convert_layout {{.*}} : tensor<64x64xbf16, #[[MMA]]> -> tensor<64x64xbf16, #[[STORE]]>
// HOPPER: tile.store {{.*}} : (tensor<64x64x!tile.ptr<bf16>, #[[STORE]]>, tensor<64x64xbf16, #[[STORE]]>)
module {
func.func @dot_store(%a: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %b: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %c: !tile.ptr<bf16> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %c64 = arith.constant 64 : i32
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %s = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %ro = arith.muli %rows, %s : tensor<64x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
  %rob = tile.broadcast %ro : tensor<64x1xi32> -> tensor<64x64xi32>
  %colb = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = arith.addi %rob, %colb : tensor<64x64xi32>
  %as = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %ap = tile.addptr %as, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %bs = tile.splat %b : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %bp = tile.addptr %bs, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %cs = tile.splat %c : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %cp = tile.addptr %cs, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %x = tile.load %ap : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
  %y = tile.load %bp : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
  %zero = arith.constant 0.0 : f32
  %acc = tile.splat %zero : f32 -> tensor<64x64xf32>
  %d = tile.dot %x, %y, %acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %t = arith.truncf %d : tensor<64x64xf32> to tensor<64x64xbf16>
  tile.store %cp, %t : (tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xbf16>) -> ()
  return
}
}

// -----

// Tests that a tf32 dot whose B has N contiguous (wgmma reads tf32 from shared memory only
// K-major) takes B from registers: the accumulator's layout is transposed and only A goes to
// shared memory.
// HOPPER-DAG: #[[MMAT:.*]] = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>
// HOPPER-DAG: #[[BT:.*]] = #tilegpu.dot_op<opIdx = 1, parent = #[[MMAT]], kWidth = 1>
// HOPPER-LABEL: func.func @tf32_register_b
// HOPPER: %[[A:.*]] = tilegpu.local_alloc
// HOPPER-NOT: tilegpu.local_alloc
// HOPPER: %[[B:.*]] = tilegpu.convert_layout {{.*}} -> tensor<64x64xf32, #[[BT]]>
// HOPPER: tilegpu.warpgroup_dot %[[A]], %[[B]], {{.*}} {input_precision = "tf32"} : !tilegpu.memdesc<64x64xf32, #shared>, tensor<64x64xf32, #[[BT]]>, tensor<64x64xf32, #[[MMAT]]>
module {
func.func @tf32_register_b(%a: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %b: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %c: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %c64 = arith.constant 64 : i32
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %s = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %ro = arith.muli %rows, %s : tensor<64x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
  %rob = tile.broadcast %ro : tensor<64x1xi32> -> tensor<64x64xi32>
  %colb = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = arith.addi %rob, %colb : tensor<64x64xi32>
  %as = tile.splat %a : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %ap = tile.addptr %as, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %bs = tile.splat %b : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %bp = tile.addptr %bs, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %cs = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %cp = tile.addptr %cs, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %x = tile.load %ap : (tensor<64x64x!tile.ptr<f32>>) -> tensor<64x64xf32>
  %y = tile.load %bp : (tensor<64x64x!tile.ptr<f32>>) -> tensor<64x64xf32>
  %zero = arith.constant 0.0 : f32
  %acc = tile.splat %zero : f32 -> tensor<64x64xf32>
  %d = tile.dot %x, %y, %acc {input_precision = "tf32"} : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
  tile.store %cp, %d : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>) -> ()
  return
}
}

// -----

// Tests that a block read by two wgmmas is stored to shared memory once: the second dot reads
// the first one's local_alloc of each operand.
// HOPPER-LABEL: func.func @operands_stored_once
// HOPPER: %[[A:.*]] = tilegpu.local_alloc
// HOPPER: %[[B:.*]] = tilegpu.local_alloc
// HOPPER: tilegpu.warpgroup_dot %[[A]], %[[B]],
// HOPPER-NOT: tilegpu.local_alloc
// HOPPER: tilegpu.warpgroup_dot %[[A]], %[[B]],
module {
func.func @operands_stored_once(%a: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %b: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %c: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %c64 = arith.constant 64 : i32
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %s = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %ro = arith.muli %rows, %s : tensor<64x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
  %rob = tile.broadcast %ro : tensor<64x1xi32> -> tensor<64x64xi32>
  %colb = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = arith.addi %rob, %colb : tensor<64x64xi32>
  %as = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %ap = tile.addptr %as, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %bs = tile.splat %b : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %bp = tile.addptr %bs, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %cs = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %cp = tile.addptr %cs, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %x = tile.load %ap : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
  %y = tile.load %bp : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
  %zero = arith.constant 0.0 : f32
  %acc = tile.splat %zero : f32 -> tensor<64x64xf32>
  %d = tile.dot %x, %y, %acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %e = tile.dot %x, %y, %d : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
  tile.store %cp, %e : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>) -> ()
  return
}
}

// -----

// Tests that breakpoints are dropped for the GPU, which has no debugger.
// CHECK-LABEL: func.func @breakpoint
// CHECK-NOT: tile.breakpoint
// CHECK: return
func.func @breakpoint(%x: tensor<128xf32>) attributes {tile.kernel} {
  tile.breakpoint %x : tensor<128xf32> {function = "kernel", names = ["x"], is_signed = array<i1: true>}
  return
}
