// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --tilegpu-remove-layout-conversions --canonicalize --convert-tilegpu-to-llvm --split-input-file | FileCheck %s

// Tests that the kernel becomes an nvvm.kernel with its CTA size, and that masked, aligned fp32
// accesses become predicated 16-byte PTX loads and stores.
// CHECK-LABEL: llvm.func @masked_copy
// CHECK-SAME: nvvm.kernel
// CHECK-SAME: nvvm.maxntid = array<i32: 128, 1, 1>
// CHECK: llvm.inline_asm has_side_effects {{.*}}@p ld.global.v4.b32
// CHECK: llvm.inline_asm has_side_effects {{.*}}@p st.global.v4.b32
module {
func.func @masked_copy(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %ns = tile.splat %n : i32 -> tensor<1024xi32>
  %m = arith.cmpi slt, %r, %ns : tensor<1024xi32>
  %v = tile.load %p, %m : (tensor<1024x!tile.ptr<f32>>, tensor<1024xi1>) -> tensor<1024xf32>
  tile.store %p, %v, %m : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>, tensor<1024xi1>) -> ()
  return
}
}

// -----

// Tests that a full reduction shuffles across lanes, then combines warps through shared memory,
// and that the kernel records the scratch it needs.
// CHECK: tilegpu.shared = 16 : i32
// CHECK: llvm.mlir.global external @tessera_smem() {addr_space = 3 : i32
// CHECK-LABEL: llvm.func @total
// CHECK-COUNT-5: nvvm.shfl.sync bfly
// CHECK: nvvm.barrier0
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK: llvm.load {{.*}} : !llvm.ptr<3> -> f32
module {
func.func @total(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 512 : i32} : tensor<512xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<512x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<512x!tile.ptr<f32>>, tensor<512xi32>
  %v = tile.load %p : (tensor<512x!tile.ptr<f32>>) -> tensor<512xf32>
  %s = tile.reduce(%v) {axis = 0 : i32} : (tensor<512xf32>) -> f32 {
  ^bb0(%a: f32, %b: f32):
    %c = arith.addf %a, %b : f32
    tile.reduce.return %c : f32
  }
  tile.store %x, %s : (!tile.ptr<f32>, f32) -> ()
  return
}
}

// -----

// Tests that fp32 division and exp follow Triton: div.full.f32 and ex2.approx.f32 of x*log2(e).
// CHECK-LABEL: llvm.func @fast_math
// CHECK: llvm.fmul {{.*}} : f32
// CHECK: llvm.inline_asm "ex2.approx.f32 $0, $1;", "=f,f"
// CHECK: llvm.inline_asm "div.full.f32 $0, $1, $2;", "=f,f,f"
module {
func.func @fast_math(%x: !tile.ptr<f32>, %y: f32) attributes {tile.kernel} {
  %v = tile.load %x : (!tile.ptr<f32>) -> f32
  %e = math.exp %v : f32
  %d = arith.divf %e, %y : f32
  tile.store %x, %d : (!tile.ptr<f32>, f32) -> ()
  return
}
}
