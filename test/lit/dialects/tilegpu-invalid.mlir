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
// expected-error @+1 {{dot_op parent must be a version-2 mma layout}}
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
