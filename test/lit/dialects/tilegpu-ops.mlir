// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --canonicalize | FileCheck %s --check-prefix=FOLD

#blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
#other = #tilegpu.blocked<sizePerThread = [1, 1], threadsPerWarp = [1, 32], warpsPerCTA = [4, 1], order = [1, 0]>

// Tests that layouts and convert_layout round trip, printed under aliases (a transposed wgmma
// layout and its register operand layout among them, see @register_operand).
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
// CHECK: #mma2 = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>
// CHECK: #dot_op1 = #tilegpu.dot_op<opIdx = 1, parent = #mma2, kWidth = 1>
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

// Tests that the tensor-core layouts, shared-memory blocks and their ops round trip.
// CHECK-LABEL: func.func @tensor_cores
// CHECK: tilegpu.local_alloc : () -> !tilegpu.memdesc<3x128x64xbf16, #shared>
// CHECK: tilegpu.memdesc_index %{{.*}}[%{{.*}}] : !tilegpu.memdesc<3x128x64xbf16, #shared> -> !tilegpu.memdesc<128x64xbf16, #shared>
// CHECK: tilegpu.async_copy
// CHECK: tilegpu.async_commit
// CHECK: tilegpu.async_wait {pending = 1 : i32}
// CHECK: tilegpu.barrier
// CHECK: tilegpu.warpgroup_dot %{{.*}}, %{{.*}}, %{{.*}} : !tilegpu.memdesc<128x64xbf16, #shared>, !tilegpu.memdesc<64x128xbf16, #shared>, tensor<128x128xf32, #mma> -> tensor<128x128xf32, #mma>
// CHECK: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 0 : i32}
// CHECK: tilegpu.local_load %{{.*}} : !tilegpu.memdesc<128x64xbf16, #shared> -> tensor<128x64xbf16, #dot_op>
#mma3 = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 128>
#mma2 = #tilegpu.mma<version = 2, warpsPerCTA = [2, 2], instrN = 8>
#opA = #tilegpu.dot_op<opIdx = 0, parent = #mma2, kWidth = 2>
#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
func.func @tensor_cores(%ptrs: tensor<128x64x!tile.ptr<bf16>, #blocked>, %mask: tensor<128x64xi1, #blocked>,
                        %b: !tilegpu.memdesc<64x128xbf16, #sh>, %acc: tensor<128x128xf32, #mma3>,
                        %i: i32) -> (tensor<128x128xf32, #mma3>, tensor<128x64xbf16, #opA>) {
  %ring = tilegpu.local_alloc : () -> !tilegpu.memdesc<3x128x64xbf16, #sh>
  %slot = tilegpu.memdesc_index %ring[%i] : !tilegpu.memdesc<3x128x64xbf16, #sh> -> !tilegpu.memdesc<128x64xbf16, #sh>
  tilegpu.async_copy %ptrs, %slot, %mask : tensor<128x64x!tile.ptr<bf16>, #blocked>, !tilegpu.memdesc<128x64xbf16, #sh>, tensor<128x64xi1, #blocked>
  tilegpu.async_commit
  tilegpu.async_wait {pending = 1 : i32}
  tilegpu.barrier
  %d = tilegpu.warpgroup_dot %slot, %b, %acc : !tilegpu.memdesc<128x64xbf16, #sh>, !tilegpu.memdesc<64x128xbf16, #sh>, tensor<128x128xf32, #mma3> -> tensor<128x128xf32, #mma3>
  %r = tilegpu.warpgroup_dot_wait %d {pending = 0 : i32} : tensor<128x128xf32, #mma3>
  %a = tilegpu.local_load %slot : !tilegpu.memdesc<128x64xbf16, #sh> -> tensor<128x64xbf16, #opA>
  return %r, %a : tensor<128x128xf32, #mma3>, tensor<128x64xbf16, #opA>
}

// Tests that a transposed wgmma layout, its register operand layout, a wgmma reading B from
// registers and a wait that keeps those registers round trip.
// CHECK-LABEL: func.func @register_operand
// CHECK: tilegpu.warpgroup_dot %{{.*}}, %{{.*}}, %{{.*}} {input_precision = "tf32"} : !tilegpu.memdesc<64x32xf32, #shared>, tensor<32x64xf32, #dot_op1>, tensor<64x64xf32, #mma2> -> tensor<64x64xf32, #mma2>
// CHECK: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32} : tensor<64x64xf32, #mma2> keep(%{{.*}} : tensor<32x64xf32, #dot_op1>)
#mmaT = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>
#bT = #tilegpu.dot_op<opIdx = 1, parent = #mmaT, kWidth = 1>
func.func @register_operand(%a: !tilegpu.memdesc<64x32xf32, #sh>, %b: tensor<32x64xf32, #bT>, %c: tensor<64x64xf32, #mmaT>) -> tensor<64x64xf32, #mmaT> {
  %d = tilegpu.warpgroup_dot %a, %b, %c {input_precision = "tf32"} : !tilegpu.memdesc<64x32xf32, #sh>, tensor<32x64xf32, #bT>, tensor<64x64xf32, #mmaT> -> tensor<64x64xf32, #mmaT>
  %r = tilegpu.warpgroup_dot_wait %d {pending = 1 : i32} : tensor<64x64xf32, #mmaT> keep(%b : tensor<32x64xf32, #bT>)
  return %r : tensor<64x64xf32, #mmaT>
}


// Tests that an mbarrier ring and the TMA ops that fill and wait on it round trip (the ring's
// type printed in its short form after the colon).
// CHECK-LABEL: func.func @tma
// CHECK-SAME: (%[[DESC:[^:]*]]: !tile.tensormap
// CHECK: %[[BARS:.*]] = tilegpu.init_barriers {arrivals = 2 : i32} : <4>
// CHECK: tilegpu.async_tma_load %[[DESC]][%{{.*}}, %{{.*}}], %{{.*}}, %[[BARS]][%{{.*}}], %{{.*}} : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #shared>, <4>
// CHECK: tilegpu.wait_barrier %[[BARS]][%{{.*}}], %{{.*}} : <4>
func.func @tma(%desc: !tile.tensormap, %slot_buf: !tilegpu.memdesc<128x64xbf16, #sh>, %row: i32, %col: i32,
               %i: i32, %slot: i32, %phase: i32, %pred: i1) {
  %bars = tilegpu.init_barriers {arrivals = 2 : i32} : !tilegpu.mbarriers<4>
  tilegpu.async_tma_load %desc[%row, %col], %slot_buf, %bars[%i], %pred : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #sh>, !tilegpu.mbarriers<4>
  tilegpu.wait_barrier %bars[%slot], %phase : !tilegpu.mbarriers<4>
  return
}

// Tests that a transposed view of a shared-memory block and a wgmma reading `a` from registers
// (attention's probabilities times V) round trip.
// CHECK-LABEL: func.func @attention_operands
// CHECK: tilegpu.memdesc_trans %{{.*}} : !tilegpu.memdesc<64x128xbf16, #shared> -> !tilegpu.memdesc<128x64xbf16, #shared1>
// CHECK: tilegpu.warpgroup_dot %{{.*}}, %{{.*}}, %{{.*}} : tensor<128x64xbf16, #dot_op2>, !tilegpu.memdesc<64x128xbf16, #shared>, tensor<128x128xf32, #mma> -> tensor<128x128xf32, #mma>
#shT = #tilegpu.shared<swizzleBytes = 128, order = [0, 1]>
#pA = #tilegpu.dot_op<opIdx = 0, parent = #mma3, kWidth = 2>
func.func @attention_operands(%k: !tilegpu.memdesc<64x128xbf16, #sh>, %p: tensor<128x64xbf16, #pA>, %v: !tilegpu.memdesc<64x128xbf16, #sh>, %acc: tensor<128x128xf32, #mma3>) -> (!tilegpu.memdesc<128x64xbf16, #shT>, tensor<128x128xf32, #mma3>) {
  %kt = tilegpu.memdesc_trans %k : !tilegpu.memdesc<64x128xbf16, #sh> -> !tilegpu.memdesc<128x64xbf16, #shT>
  %d = tilegpu.warpgroup_dot %p, %v, %acc : tensor<128x64xbf16, #pA>, !tilegpu.memdesc<64x128xbf16, #sh>, tensor<128x128xf32, #mma3> -> tensor<128x128xf32, #mma3>
  return %kt, %d : !tilegpu.memdesc<128x64xbf16, #shT>, tensor<128x128xf32, #mma3>
}
