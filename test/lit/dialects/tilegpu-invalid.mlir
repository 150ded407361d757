// RUN: tessera-opt %s -split-input-file -verify-diagnostics

// Tests that a warp must have 32 lanes.
// expected-error @+1 {{threadsPerWarp must multiply to 32, got 16}}
func.func @lanes(%x: tensor<16xf32, #tilegpu.blocked<sizePerThread = [1], threadsPerWarp = [16], warpsPerCTA = [1], order = [0]>>) {
  return
}

// -----

// Tests that a wgmma layout needs whole warpgroups along M.
// expected-error @+1 {{mma version 3 needs warpsPerCTA[0] a multiple of 4}}
func.func @mma_warpgroups(%x: tensor<64x64xf32, #tilegpu.mma<version = 3, warpsPerCTA = [2, 2], instrN = 32>>) {
  return
}

// -----

// Tests that a dot operand layout hangs off an mma.sync layout.
// expected-error @+1 {{dot_op parent must be a version-2 mma layout, a version-3 one for a 16-bit operand 0, or a transposed version-3 one for operand 1}}
func.func @dot_op_parent(%x: tensor<64x64xf16, #tilegpu.dot_op<opIdx = 0, parent = #tilegpu.blocked<sizePerThread = [1, 1], threadsPerWarp = [1, 32], warpsPerCTA = [4, 1], order = [1, 0]>, kWidth = 2>>) {
  return
}

// -----

// Tests that the swizzle is one of the three tensor cores read.
// expected-error @+1 {{shared swizzleBytes must be 32, 64 or 128, got 16}}
func.func @swizzle(%x: !tilegpu.memdesc<64x64xf16, #tilegpu.shared<swizzleBytes = 16, order = [1, 0]>>) {
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
// Tests that indexing a ring yields one of its buffers.
func.func @ring_index(%ring: !tilegpu.memdesc<3x64x64xf16, #sh>, %i: i32) {
  // expected-error @+1 {{indexes a 3-D ring into one of its 2-D buffers}}
  %b = tilegpu.memdesc_index %ring[%i] : !tilegpu.memdesc<3x64x64xf16, #sh> -> !tilegpu.memdesc<64x32xf16, #sh>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
#mma = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64>
// Tests that warpgroup_dot checks that the shapes chain.
func.func @wgmma_shapes(%a: !tilegpu.memdesc<64x64xf16, #sh>, %b: !tilegpu.memdesc<32x64xf16, #sh>, %c: tensor<64x64xf32, #mma>) {
  // expected-error @+1 {{shapes do not chain}}
  %d = tilegpu.warpgroup_dot %a, %b, %c : !tilegpu.memdesc<64x64xf16, #sh>, !tilegpu.memdesc<32x64xf16, #sh>, tensor<64x64xf32, #mma> -> tensor<64x64xf32, #mma>
  return
}

// -----

// Tests that only a wgmma layout can be transposed.
// expected-error @+1 {{only a version-3 mma layout can be transposed}}
func.func @mma_transposed_v2(%x: tensor<64x64xf32, #tilegpu.mma<version = 2, warpsPerCTA = [2, 2], instrN = 8, transposed = true>>) {
  return
}

// -----

// Tests that a dot operand of a wgmma layout must be the register B of a transposed one.
// expected-error @+1 {{dot_op parent must be a version-2 mma layout, a version-3 one for a 16-bit operand 0, or a transposed version-3 one for operand 1}}
func.func @dot_op_wgmma(%x: tensor<64x64xf32, #tilegpu.dot_op<opIdx = 0, parent = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>, kWidth = 1>>) {
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
#mma = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64>
#mmaT = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>
#bT = #tilegpu.dot_op<opIdx = 1, parent = #mmaT, kWidth = 1>
// Tests that a register B goes with a transposed accumulator.
func.func @wgmma_register_b(%a: !tilegpu.memdesc<64x32xf32, #sh>, %b: tensor<32x64xf32, #bT>, %c: tensor<64x64xf32, #mma>) {
  // expected-error @+1 {{b comes from registers exactly when the accumulator's layout is transposed}}
  %d = tilegpu.warpgroup_dot %a, %b, %c {input_precision = "tf32"} : !tilegpu.memdesc<64x32xf32, #sh>, tensor<32x64xf32, #bT>, tensor<64x64xf32, #mma> -> tensor<64x64xf32, #mma>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
#blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8], warpsPerCTA = [4, 1], order = [1, 0]>
#mmaT = #tilegpu.mma<version = 3, warpsPerCTA = [4, 1], instrN = 64, transposed = true>
// Tests that a register B must be in the accumulator's dot_op layout.
func.func @wgmma_register_b_layout(%a: !tilegpu.memdesc<64x32xf32, #sh>, %b: tensor<32x64xf32, #blocked>, %c: tensor<64x64xf32, #mmaT>) {
  // expected-error @+1 {{b in registers must have the dot_op layout (opIdx 1) of the accumulator's layout}}
  %d = tilegpu.warpgroup_dot %a, %b, %c {input_precision = "tf32"} : !tilegpu.memdesc<64x32xf32, #sh>, tensor<32x64xf32, #blocked>, tensor<64x64xf32, #mmaT> -> tensor<64x64xf32, #mmaT>
  return
}

// -----

#col = #tilegpu.shared<swizzleBytes = 128, order = [0, 1]>
// Tests that TMA writes a buffer contiguous along its last dimension.
func.func @tma_order(%desc: !tile.tensormap, %dst: !tilegpu.memdesc<128x64xbf16, #col>, %bars: !tilegpu.mbarriers<4>, %r: i32, %c: i32, %i: i32, %p: i1) {
  // expected-error @+1 {{destination must be contiguous along its last dimension}}
  tilegpu.async_tma_load %desc[%r, %c], %dst, %bars[%i], %p : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #col>, !tilegpu.mbarriers<4>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 32, order = [1, 0]>
// Tests that a TMA destination's rows are whole swizzle runs.
func.func @tma_swizzle_runs(%desc: !tile.tensormap, %dst: !tilegpu.memdesc<128x8xbf16, #sh>, %bars: !tilegpu.mbarriers<4>, %r: i32, %c: i32, %i: i32, %p: i1) {
  // expected-error @+1 {{destination rows of 16 bytes are not a whole number of 32-byte swizzle runs}}
  tilegpu.async_tma_load %desc[%r, %c], %dst, %bars[%i], %p : !tile.tensormap, !tilegpu.memdesc<128x8xbf16, #sh>, !tilegpu.mbarriers<4>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
// Tests that a TMA box has at most 256 rows.
func.func @tma_rows(%desc: !tile.tensormap, %dst: !tilegpu.memdesc<512x64xbf16, #sh>, %bars: !tilegpu.mbarriers<4>, %r: i32, %c: i32, %i: i32, %p: i1) {
  // expected-error @+1 {{a TMA box has at most 256 rows, got 512}}
  tilegpu.async_tma_load %desc[%r, %c], %dst, %bars[%i], %p : !tile.tensormap, !tilegpu.memdesc<512x64xbf16, #sh>, !tilegpu.mbarriers<4>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
// Tests that a TMA copy into a 2-D buffer takes two coordinates.
func.func @tma_coords(%desc: !tile.tensormap, %dst: !tilegpu.memdesc<128x64xbf16, #sh>, %bars: !tilegpu.mbarriers<4>, %r: i32, %i: i32, %p: i1) {
  // expected-error @+1 {{needs 2 coordinates, got 1}}
  tilegpu.async_tma_load %desc[%r], %dst, %bars[%i], %p : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #sh>, !tilegpu.mbarriers<4>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
// Tests that a TMA copy fills one buffer of a ring, not the whole ring.
func.func @tma_ring(%desc: !tile.tensormap, %dst: !tilegpu.memdesc<4x128x64xbf16, #sh>, %bars: !tilegpu.mbarriers<4>, %r: i32, %c: i32, %i: i32, %p: i1) {
  // expected-error @+1 {{destination must be one 2-D buffer}}
  tilegpu.async_tma_load %desc[%r, %c], %dst, %bars[%i], %p : !tile.tensormap, !tilegpu.memdesc<4x128x64xbf16, #sh>, !tilegpu.mbarriers<4>
  return
}

// -----

// Tests that an mbarrier ring is not empty.
// expected-error @+1 {{an mbarrier ring needs at least one mbarrier, got 0}}
func.func @no_mbarriers(%bars: !tilegpu.mbarriers<0>) {
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
// Tests that memdesc_trans swaps the layout's order along with the dimensions.
func.func @trans_order(%k: !tilegpu.memdesc<64x128xbf16, #sh>) {
  // expected-error @+1 {{result must be the source with its dimensions and its layout's order swapped}}
  %kt = tilegpu.memdesc_trans %k : !tilegpu.memdesc<64x128xbf16, #sh> -> !tilegpu.memdesc<128x64xbf16, #sh>
  return
}

// -----

#sh = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
#mma = #tilegpu.mma<version = 3, warpsPerCTA = [8, 1], instrN = 128>
#other = #tilegpu.mma<version = 3, warpsPerCTA = [8, 1], instrN = 64>
#pA = #tilegpu.dot_op<opIdx = 0, parent = #other, kWidth = 2>
// Tests that a register `a` must be in the dot_op layout of the accumulator's own layout.
func.func @register_a_parent(%p: tensor<128x64xbf16, #pA>, %v: !tilegpu.memdesc<64x128xbf16, #sh>, %acc: tensor<128x128xf32, #mma>) {
  // expected-error @+1 {{a in registers must have the dot_op layout (opIdx 0) of the accumulator's layout}}
  %d = tilegpu.warpgroup_dot %p, %v, %acc : tensor<128x64xbf16, #pA>, !tilegpu.memdesc<64x128xbf16, #sh>, tensor<128x128xf32, #mma> -> tensor<128x128xf32, #mma>
  return
}
