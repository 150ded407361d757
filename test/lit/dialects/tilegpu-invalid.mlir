// RUN: tessera-opt %s -split-input-file -verify-diagnostics

// Tests that a warp must have 32 lanes.
// expected-error @+1 {{threadsPerWarp must multiply to 32, got 16}}
func.func @lanes(%x: tensor<16xf32, #tilegpu.blocked<sizePerThread = [1], threadsPerWarp = [16], warpsPerCTA = [1], order = [0]>>) {
  return
}
