// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=8 target=sm_90a" --tilegpu-remove-layout-conversions --canonicalize | FileCheck %s

// The layouts of a FlashAttention-style loop (tile IR of a `@tessera.jit` kernel: S = Q K^T,
// online softmax, O += P V) on sm_90a, across layout assignment and conversion removal.

// Tests that Q is stored once before the loop; that K, loaded row by row, feeds the wgmma
// through a transposed view (K-major, no exchange); that the row max and row sum reduce in the
// accumulator's layout and the running statistics are carried in its slice; that P becomes
// the second wgmma's register operand through a free conversion; and that nothing else in the
// loop converts.
// CHECK-LABEL: func.func @attn_fwd
// CHECK: tilegpu.local_alloc %{{.*}} : (tensor<128x64xbf16, #blocked{{[0-9]*}}>) -> !tilegpu.memdesc<128x64xbf16, #shared>
// CHECK: scf.for {{.*}} -> (tensor<128xf32, #slice>, tensor<128x64xf32, #mma>, tensor<128xf32, #slice>
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tilegpu.memdesc_trans %{{.*}} : !tilegpu.memdesc<64x64xbf16, #shared> -> !tilegpu.memdesc<64x64xbf16, #shared1>
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tile.reduce(%{{.*}}) {axis = 1 : i32} : (tensor<128x64xf32, #mma>) -> tensor<128xf32, #slice>
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tile.reduce(%{{.*}}) {axis = 1 : i32} : (tensor<128x64xf32, #mma>) -> tensor<128xf32, #slice>
// CHECK-NOT: tilegpu.convert_layout
// CHECK: tilegpu.convert_layout %{{.*}} : tensor<128x64xbf16, #mma> -> tensor<128x64xbf16, #dot_op>
// CHECK-NEXT: tilegpu.local_alloc
// CHECK-NEXT: tilegpu.warpgroup_dot %{{.*}}, %{{.*}}, %{{.*}} : tensor<128x64xbf16, #dot_op>, !tilegpu.memdesc<64x64xbf16, #shared>
// CHECK-NOT: tilegpu.convert_layout
// CHECK: scf.yield
module {
  func.func @attn_fwd(%arg0: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg1: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg2: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg3: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg4: f32, %arg5: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
    %cst = arith.constant dense<4096> : tensor<64x64xi32>
    %cst_0 = arith.constant dense<0.000000e+00> : tensor<128x64xf32>
    %cst_1 = arith.constant dense<0.000000e+00> : tensor<128xf32>
    %cst_2 = arith.constant dense<0xFF800000> : tensor<128xf32>
    %cst_3 = arith.constant dense<64> : tensor<64x1xi32>
    %cst_4 = arith.constant dense<64> : tensor<128x1xi32>
    %c0_i32 = arith.constant 0 : i32
    %cst_5 = arith.constant 1.44269502 : f32
    %c64_i32 = arith.constant 64 : i32
    %c128_i32 = arith.constant 128 : i32
    %0 = tile.program_id 0 : i32
    %1 = tile.program_id 1 : i32
    %2 = arith.muli %0, %c128_i32 : i32
    %3 = tile.make_range {end = 128 : i32, start = 0 : i32} : tensor<128xi32>
    %4 = tile.splat %2 : i32 -> tensor<128xi32>
    %5 = arith.addi %4, %3 : tensor<128xi32>
    %6 = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %7 = arith.muli %1, %arg5 : i32
    %8 = arith.muli %7, %c64_i32 : i32
    %9 = tile.addptr %arg0, %8 : !tile.ptr<bf16>, i32
    %10 = tile.expand_dims %5 {axis = 1 : i32} : tensor<128xi32> -> tensor<128x1xi32>
    %11 = arith.muli %10, %cst_4 : tensor<128x1xi32>
    %12 = tile.splat %9 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %13 = tile.addptr %12, %11 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %14 = tile.expand_dims %6 {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %15 = tile.broadcast %13 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x64x!tile.ptr<bf16>>
    %16 = tile.broadcast %14 : tensor<1x64xi32> -> tensor<128x64xi32>
    %17 = tile.addptr %15, %16 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
    %18 = tile.load %17 : (tensor<128x64x!tile.ptr<bf16>>) -> tensor<128x64xbf16>
    %19 = tile.addptr %arg1, %8 : !tile.ptr<bf16>, i32
    %20 = tile.expand_dims %6 {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %21 = arith.muli %20, %cst_3 : tensor<64x1xi32>
    %22 = tile.splat %19 : !tile.ptr<bf16> -> tensor<64x1x!tile.ptr<bf16>>
    %23 = tile.addptr %22, %21 : tensor<64x1x!tile.ptr<bf16>>, tensor<64x1xi32>
    %24 = tile.broadcast %23 : tensor<64x1x!tile.ptr<bf16>> -> tensor<64x64x!tile.ptr<bf16>>
    %25 = tile.broadcast %14 : tensor<1x64xi32> -> tensor<64x64xi32>
    %26 = tile.addptr %24, %25 : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %27 = tile.addptr %arg2, %8 : !tile.ptr<bf16>, i32
    %28 = tile.splat %27 : !tile.ptr<bf16> -> tensor<64x1x!tile.ptr<bf16>>
    %29 = tile.addptr %28, %21 : tensor<64x1x!tile.ptr<bf16>>, tensor<64x1xi32>
    %30 = tile.broadcast %29 : tensor<64x1x!tile.ptr<bf16>> -> tensor<64x64x!tile.ptr<bf16>>
    %31 = tile.addptr %30, %25 : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %32 = arith.mulf %arg4, %cst_5 : f32
    %33:5 = scf.for %arg6 = %c0_i32 to %arg5 step %c64_i32 iter_args(%arg7 = %cst_1, %arg8 = %cst_0, %arg9 = %cst_2, %arg10 = %26, %arg11 = %31) -> (tensor<128xf32>, tensor<128x64xf32>, tensor<128xf32>, tensor<64x64x!tile.ptr<bf16>>, tensor<64x64x!tile.ptr<bf16>>)  : i32 {
      %43 = tile.load %arg10 : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %44 = tile.trans %43 {order = array<i32: 1, 0>} : tensor<64x64xbf16> -> tensor<64x64xbf16>
      %45 = tile.dot %18, %44, %cst_0 : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
      %46 = tile.reduce(%45) {axis = 1 : i32} : (tensor<128x64xf32>) -> tensor<128xf32> {
      ^bb0(%arg12: f32, %arg13: f32):
        %69 = arith.maxnumf %arg12, %arg13 : f32
        tile.reduce.return %69 : f32
      }
      %47 = tile.splat %32 : f32 -> tensor<128xf32>
      %48 = arith.mulf %46, %47 : tensor<128xf32>
      %49 = arith.maxnumf %arg9, %48 : tensor<128xf32>
      %50 = tile.splat %32 : f32 -> tensor<128x64xf32>
      %51 = arith.mulf %45, %50 : tensor<128x64xf32>
      %52 = tile.expand_dims %49 {axis = 1 : i32} : tensor<128xf32> -> tensor<128x1xf32>
      %53 = tile.broadcast %52 : tensor<128x1xf32> -> tensor<128x64xf32>
      %54 = arith.subf %51, %53 : tensor<128x64xf32>
      %55 = math.exp2 %54 : tensor<128x64xf32>
      %56 = tile.reduce(%55) {axis = 1 : i32} : (tensor<128x64xf32>) -> tensor<128xf32> {
      ^bb0(%arg12: f32, %arg13: f32):
        %69 = arith.addf %arg12, %arg13 : f32
        tile.reduce.return %69 : f32
      }
      %57 = arith.subf %arg9, %49 : tensor<128xf32>
      %58 = math.exp2 %57 : tensor<128xf32>
      %59 = arith.mulf %arg7, %58 : tensor<128xf32>
      %60 = arith.addf %59, %56 : tensor<128xf32>
      %61 = tile.expand_dims %58 {axis = 1 : i32} : tensor<128xf32> -> tensor<128x1xf32>
      %62 = tile.broadcast %61 : tensor<128x1xf32> -> tensor<128x64xf32>
      %63 = arith.mulf %arg8, %62 : tensor<128x64xf32>
      %64 = tile.load %arg11 : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %65 = arith.truncf %55 : tensor<128x64xf32> to tensor<128x64xbf16>
      %66 = tile.dot %65, %64, %63 : tensor<128x64xbf16>, tensor<64x64xbf16> -> tensor<128x64xf32>
      %67 = tile.addptr %arg10, %cst : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %68 = tile.addptr %arg11, %cst : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      scf.yield %60, %66, %49, %67, %68 : tensor<128xf32>, tensor<128x64xf32>, tensor<128xf32>, tensor<64x64x!tile.ptr<bf16>>, tensor<64x64x!tile.ptr<bf16>>
    }
    %34 = tile.expand_dims %33#0 {axis = 1 : i32} : tensor<128xf32> -> tensor<128x1xf32>
    %35 = tile.broadcast %34 : tensor<128x1xf32> -> tensor<128x64xf32>
    %36 = arith.divf %33#1, %35 : tensor<128x64xf32>
    %37 = tile.addptr %arg3, %8 : !tile.ptr<bf16>, i32
    %38 = tile.splat %37 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %39 = tile.addptr %38, %11 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %40 = tile.broadcast %39 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x64x!tile.ptr<bf16>>
    %41 = tile.addptr %40, %16 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
    %42 = arith.truncf %36 : tensor<128x64xf32> to tensor<128x64xbf16>
    tile.store %41, %42 {operandSegmentSizes = array<i32: 1, 1, 0>} : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xbf16>) -> ()
    return
  }
}