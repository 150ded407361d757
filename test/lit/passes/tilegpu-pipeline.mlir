// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline=num-stages=4 --canonicalize | FileCheck %s --check-prefix=WGMMA
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline=num-stages=3 --canonicalize | FileCheck %s --check-prefix=TF32
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_80" --tilegpu-pipeline=num-stages=3 --canonicalize | FileCheck %s --check-prefix=MMA
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline=num-stages=1 --canonicalize | FileCheck %s --check-prefix=OFF
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline="num-stages=4 max-shared-bytes=100000" --canonicalize | FileCheck %s --check-prefix=CAP
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline="num-stages=4 max-shared-bytes=50000" --canonicalize | FileCheck %s --check-prefix=NOFIT
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-pipeline="num-stages=4 tma=true" --canonicalize | FileCheck %s --check-prefix=TMA

// Tests that a matmul loop on wgmma gets rings of 4 buffers filled three iterations ahead (the
// prologue issues iterations 0, 1 and 2), the wgmma left in flight across one iteration, the
// copies of iteration i + 3 issued after that wgmma's wait and a barrier (they refill the buffers
// iteration i - 1 read), and everything drained after the loop. The loop and its final wgmma
// wait sit under a guard against zero iterations (the other path yields the initial
// accumulator), which keeps ptxas from serialising the wgmmas.
// WGMMA-LABEL: func.func @matmul(
// WGMMA-DAG: tilegpu.local_alloc : () -> !tilegpu.memdesc<4x128x64xbf16, #shared>
// WGMMA-DAG: tilegpu.local_alloc : () -> !tilegpu.memdesc<4x64x128xbf16, #shared>
// WGMMA-COUNT-3: tilegpu.async_commit
// WGMMA: %[[NONEMPTY:.*]] = arith.cmpi sgt, %[[TRIPS:.*]], %c0_i32 : i32
// WGMMA: scf.if %[[NONEMPTY]]
// WGMMA: scf.for {{.*}} to %[[TRIPS]]
// WGMMA: tilegpu.async_wait {pending = 2 : i32}
// WGMMA: tilegpu.warpgroup_dot
// WGMMA: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32}
// WGMMA-NEXT: tilegpu.barrier
// WGMMA-COUNT-2: tilegpu.async_copy
// WGMMA: tilegpu.async_commit
// WGMMA: scf.yield
// WGMMA: %[[LAST:.*]] = tilegpu.warpgroup_dot_wait %{{.*}} {pending = 0 : i32}
// WGMMA: scf.yield %[[LAST]]
// WGMMA: } else {
// WGMMA: tilegpu.async_wait {pending = 0 : i32}

// Tests that without tma the loads that name a tensor map are still pipelined, with cp.async.
// WGMMA-LABEL: func.func @matmul_tma
// WGMMA-NOT: tilegpu.init_barriers
// WGMMA: tilegpu.async_copy
// WGMMA-NOT: tilegpu.async_tma_load
// WGMMA: tilegpu.async_commit
// WGMMA-NOT: tilegpu.async_tma_load
// WGMMA: return

// Tests that a tf32 dot with B from registers, one accumulator tile per warpgroup, keeps its
// wgmma in flight across one iteration, and that the loop carries B's registers to the next
// iteration's wait (and the last ones to the wait after the loop), so that they stay untouched
// while the wgmma reads them; and that the loop is unrolled by two, with a remainder loop, so
// that consecutive iterations load B into different registers.
// TF32-LABEL: func.func @matmul_tf32
// TF32: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : tensor<32x64xf32, #[[BT:dot_op[0-9]*]]>
// TF32: %[[MAIN:.*]]:6 = scf.for {{.*}} step %c2_i32 iter_args({{.*}}, %[[PREV:.*]] = %[[ZERO]])
// TF32: %[[B0:.*]] = tilegpu.local_load {{.*}} -> tensor<32x64xf32, #[[BT]]>
// TF32: tilegpu.warpgroup_dot %{{.*}}, %[[B0]], %{{.*}} {input_precision = "tf32"} : {{.*}} -> tensor<64x64xf32, #[[ACC:mma[0-9]*]]>
// TF32: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32} : tensor<64x64xf32, #[[ACC]]> keep(%[[PREV]] : tensor<32x64xf32, #[[BT]]>)
// TF32: %[[B1:.*]] = tilegpu.local_load {{.*}} -> tensor<32x64xf32, #[[BT]]>
// TF32: tilegpu.warpgroup_dot %{{.*}}, %[[B1]], %{{.*}} {input_precision = "tf32"}
// TF32: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32} : tensor<64x64xf32, #[[ACC]]> keep(%[[B0]] : tensor<32x64xf32, #[[BT]]>)
// TF32: scf.yield {{.*}}, %[[B1]] :
// TF32: %[[REST:.*]]:6 = scf.for {{.*}} step %c1_i32 iter_args({{.*}} = %[[MAIN]]#5)
// TF32: %[[B:.*]] = tilegpu.local_load {{.*}} -> tensor<32x64xf32, #[[BT]]>
// TF32: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32}
// TF32: scf.yield {{.*}}, %[[B]] :
// TF32: tilegpu.warpgroup_dot_wait %[[REST]]#0 {pending = 0 : i32} : tensor<64x64xf32, #[[ACC]]> keep(%[[REST]]#5 : tensor<32x64xf32, #[[BT]]>)

// Tests that on mma.sync the operands come from the rings through local_load into dot_op
// layouts, copied num_stages - 1 = 2 iterations ahead.
// MMA-LABEL: func.func @matmul(
// MMA: tilegpu.local_alloc : () -> !tilegpu.memdesc<3x128x64xbf16, #shared>
// MMA: scf.for
// MMA: tilegpu.async_wait {pending = 1 : i32}
// MMA: tilegpu.local_load {{.*}} -> tensor<128x64xbf16, #dot_op>
// MMA: tile.dot {{.*}} -> tensor<128x128xf32, #mma>

// Tests that rings of 4 x 32 KiB that would exceed max-shared-bytes (100000) get 3 buffers.
// CAP-LABEL: func.func @matmul(
// CAP-DAG: tilegpu.local_alloc : () -> !tilegpu.memdesc<3x128x64xbf16, #shared>
// CAP-DAG: tilegpu.local_alloc : () -> !tilegpu.memdesc<3x64x128xbf16, #shared>

// Tests that a loop whose rings would not fit even with 2 buffers is not pipelined.
// NOFIT-LABEL: func.func @matmul(
// NOFIT-NOT: tilegpu.async_copy
// NOFIT: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 0 : i32}

// Tests that one stage means no pipelining: the blocks go through registers into shared memory.
// OFF-LABEL: func.func @matmul(
// OFF-NOT: tilegpu.async_copy
// OFF: tilegpu.local_alloc %{{.*}} : (tensor<128x64xbf16, #blocked{{[0-9]*}}>)
// OFF: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 0 : i32}

// Tests that with tma the loads that name a tensor map fill their rings with TMA copies: one
// ring of 4 mbarriers that both streams arrive on, the copies of iterations 0, 1 and 2 (at their
// coordinates) in the prologue, and no cp.async at all. Each iteration waits on the mbarrier of
// the slot it reads, in the phase the loop carries, and issues the copies of iteration i + 3
// after the wgmma's wait and a barrier, at the coordinates of that iteration; the phase flips
// each time the read slot comes round to 0.
// TMA-LABEL: func.func @matmul_tma
// TMA-SAME: (%{{.*}}, %[[DESCA:[^:]*]]: !tile.tensormap, %[[DESCB:[^:]*]]: !tile.tensormap)
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: %[[ROW:.*]] = arith.muli %{{.*}}, %c128_i32 : i32
// TMA: %[[COL:.*]] = arith.muli %{{.*}}, %c128_i32 : i32
// TMA: %[[A:.*]] = tilegpu.local_alloc : () -> !tilegpu.memdesc<4x128x64xbf16, #shared>
// TMA: %[[B:.*]] = tilegpu.local_alloc : () -> !tilegpu.memdesc<4x64x128xbf16, #shared>
// TMA: %[[BARS:.*]] = tilegpu.init_barriers {arrivals = 2 : i32} : <4>
// TMA-NOT: tilegpu.init_barriers
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: %[[A0:.*]] = tilegpu.memdesc_index %[[A]][%c0_i32]
// TMA: tilegpu.async_tma_load %[[DESCA]][%[[ROW]], %c0_i32], %[[A0]], %[[BARS]][%c0_i32], %{{.*}} : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #shared>, <4>
// TMA: %[[B0:.*]] = tilegpu.memdesc_index %[[B]][%c0_i32]
// TMA: tilegpu.async_tma_load %[[DESCB]][%c0_i32, %[[COL]]], %[[B0]], %[[BARS]][%c0_i32], %{{.*}} : !tile.tensormap, !tilegpu.memdesc<64x128xbf16, #shared>, <4>
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: tilegpu.async_tma_load %[[DESCA]][%[[ROW]], %c64_i32], %{{.*}}, %[[BARS]][%c1_i32]
// TMA: tilegpu.async_tma_load %[[DESCB]][%c64_i32, %[[COL]]], %{{.*}}, %[[BARS]][%c1_i32]
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: tilegpu.async_tma_load %[[DESCA]][%[[ROW]], %c128_i32], %{{.*}}, %[[BARS]][%c2_i32]
// TMA: tilegpu.async_tma_load %[[DESCB]][%c128_i32, %[[COL]]], %{{.*}}, %[[BARS]][%c2_i32]
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: scf.for %[[IV:[^ ]*]] = {{.*}} iter_args({{.*}}, %[[READ:[^ ]*]] = %c0_i32, %[[WRITE:[^ ]*]] = %c3_i32, %[[PHASE:[^ ]*]] = %c0_i32)
// TMA-NEXT: tilegpu.wait_barrier %[[BARS]][%[[READ]]], %[[PHASE]] : <4>
// TMA: tilegpu.warpgroup_dot
// TMA: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32}
// TMA-NEXT: tilegpu.barrier
// TMA-NEXT: %[[AHEAD:.*]] = arith.addi %[[IV]], %c3_i32 : i32
// TMA-NEXT: arith.cmpi slt, %[[AHEAD]], %{{.*}} : i32
// TMA-NEXT: %[[K:.*]] = arith.muli %[[AHEAD]], %c64_i32 : i32
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: tilegpu.async_tma_load %[[DESCA]][%[[ROW]], %[[K]]], %{{.*}}, %[[BARS]][%[[WRITE]]]
// TMA: tilegpu.async_tma_load %[[DESCB]][%[[K]], %[[COL]]], %{{.*}}, %[[BARS]][%[[WRITE]]]
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: %[[NEXT:.*]] = arith.select %{{.*}}, %c0_i32, %{{.*}} : i32
// TMA: %[[WRAPPED:.*]] = arith.cmpi eq, %[[NEXT]], %c0_i32 : i32
// TMA: %[[FLIPPED:.*]] = arith.xori %[[PHASE]], %c1_i32 : i32
// TMA: %[[NEXTPHASE:.*]] = arith.select %[[WRAPPED]], %[[FLIPPED]], %[[PHASE]] : i32
// TMA-NEXT: scf.yield {{.*}}, %[[NEXT]], %{{.*}}, %[[NEXTPHASE]] :
// TMA: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 0 : i32}
// TMA-NOT: tilegpu.async_{{copy|commit|wait}}
// TMA: return

// Tests that a load in the address slice (a page-table read giving a streamed block's page) runs
// ahead with the copies when the loop stores nothing: in the prologue and in the loop, each copy
// of it reads only for an iteration before the end (its mask), then feeds its iteration's
// cp.async; the table position is carried three iterations ahead.
// WGMMA-LABEL: func.func @paged(
// WGMMA: %[[FIRST:.*]] = arith.cmpi sgt, %[[N:[^,]*]], %c0_i32 : i32
// WGMMA-NEXT: tile.load %[[TABLE:[^,]*]], %[[FIRST]] : (!tile.ptr<i32>, i1) -> i32
// WGMMA: tilegpu.async_copy
// WGMMA: tile.load %{{.*}}, %{{.*}} : (!tile.ptr<i32>, i1) -> i32
// WGMMA: tilegpu.async_copy
// WGMMA: tile.load %{{.*}}, %{{.*}} : (!tile.ptr<i32>, i1) -> i32
// WGMMA: tilegpu.async_copy
// WGMMA: scf.for %[[IV:[^ ]*]] = {{.*}} iter_args(%{{[^ ]*}} = %{{[^,]*}}, %[[SLOT:[^ ]*]] = %{{[^,]*}},
// WGMMA: tilegpu.warpgroup_dot_wait %{{.*}} {pending = 1 : i32}
// WGMMA: %[[AHEAD:.*]] = arith.addi %[[IV]], %c3_i32 : i32
// WGMMA: %[[VALID:.*]] = arith.cmpi slt, %[[AHEAD]], %[[N]] : i32
// WGMMA-NEXT: tile.load %[[SLOT]], %[[VALID]] : (!tile.ptr<i32>, i1) -> i32
// WGMMA: tilegpu.async_copy
// WGMMA: tilegpu.async_commit

// Tests that the same loop is not pipelined when it also stores: a page-table read issued
// iterations early could then miss a store before it.
// WGMMA-LABEL: func.func @paged_storing(
// WGMMA-NOT: tilegpu.async_copy
// WGMMA: scf.for
// WGMMA: tile.load %{{[^,]*}} : (!tile.ptr<i32>) -> i32
// WGMMA-NOT: tilegpu.async_copy
// WGMMA: return
module {
  func.func @matmul(%arg0: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg1: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg2: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg3: i32 {tile.divisibility = 16 : i32}, %arg4: i32 {tile.divisibility = 16 : i32}, %arg5: i32 {tile.divisibility = 16 : i32}, %arg6: i32 {tile.divisibility = 16 : i32}, %arg7: i32 {tile.divisibility = 16 : i32}, %arg8: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
    %cst = arith.constant 0.000000e+00 : bf16
    %c63_i32 = arith.constant 63 : i32
    %c0_i32 = arith.constant 0 : i32
    %c64_i32 = arith.constant 64 : i32
    %cst_0 = arith.constant 0.000000e+00 : f32
    %c1_i32 = arith.constant 1 : i32
    %c128_i32 = arith.constant 128 : i32
    %0 = tile.program_id 0 : i32
    %1 = tile.program_id 1 : i32
    %2 = arith.muli %0, %c128_i32 : i32
    %3 = tile.make_range {end = 128 : i32, start = 0 : i32} : tensor<128xi32>
    %4 = tile.splat %2 : i32 -> tensor<128xi32>
    %5 = arith.addi %4, %3 : tensor<128xi32>
    %6 = arith.muli %1, %c128_i32 : i32
    %7 = tile.splat %6 : i32 -> tensor<128xi32>
    %8 = arith.addi %7, %3 : tensor<128xi32>
    %9 = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %10 = tile.expand_dims %5 {axis = 1 : i32} : tensor<128xi32> -> tensor<128x1xi32>
    %11 = tile.splat %arg6 : i32 -> tensor<128x1xi32>
    %12 = arith.muli %10, %11 : tensor<128x1xi32>
    %13 = tile.splat %arg0 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %14 = tile.addptr %13, %12 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %15 = tile.expand_dims %9 {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %16 = tile.splat %c1_i32 : i32 -> tensor<1x64xi32>
    %17 = arith.muli %15, %16 : tensor<1x64xi32>
    %18 = tile.broadcast %14 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x64x!tile.ptr<bf16>>
    %19 = tile.broadcast %17 : tensor<1x64xi32> -> tensor<128x64xi32>
    %20 = tile.addptr %18, %19 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
    %21 = tile.expand_dims %9 {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %22 = tile.splat %arg7 : i32 -> tensor<64x1xi32>
    %23 = arith.muli %21, %22 : tensor<64x1xi32>
    %24 = tile.splat %arg1 : !tile.ptr<bf16> -> tensor<64x1x!tile.ptr<bf16>>
    %25 = tile.addptr %24, %23 : tensor<64x1x!tile.ptr<bf16>>, tensor<64x1xi32>
    %26 = tile.expand_dims %8 {axis = 0 : i32} : tensor<128xi32> -> tensor<1x128xi32>
    %27 = tile.splat %c1_i32 : i32 -> tensor<1x128xi32>
    %28 = arith.muli %26, %27 : tensor<1x128xi32>
    %29 = tile.broadcast %25 : tensor<64x1x!tile.ptr<bf16>> -> tensor<64x128x!tile.ptr<bf16>>
    %30 = tile.broadcast %28 : tensor<1x128xi32> -> tensor<64x128xi32>
    %31 = tile.addptr %29, %30 : tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi32>
    %32 = tile.splat %cst_0 : f32 -> tensor<128x128xf32>
    %33 = arith.addi %arg5, %c63_i32 : i32
    %34 = arith.divsi %33, %c64_i32 : i32
    %35:3 = scf.for %arg9 = %c0_i32 to %34 step %c1_i32 iter_args(%arg10 = %32, %arg11 = %20, %arg12 = %31) -> (tensor<128x128xf32>, tensor<128x64x!tile.ptr<bf16>>, tensor<64x128x!tile.ptr<bf16>>)  : i32 {
      %51 = tile.splat %arg3 : i32 -> tensor<128x1xi32>
      %52 = arith.cmpi slt, %10, %51 : tensor<128x1xi32>
      %53 = tile.broadcast %52 : tensor<128x1xi1> -> tensor<128x64xi1>
      %54 = tile.splat %cst : bf16 -> tensor<128x64xbf16>
      %55 = tile.load %arg11, %53, %54 : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi1>, tensor<128x64xbf16>) -> tensor<128x64xbf16>
      %56 = tile.splat %arg4 : i32 -> tensor<1x128xi32>
      %57 = arith.cmpi slt, %26, %56 : tensor<1x128xi32>
      %58 = tile.broadcast %57 : tensor<1x128xi1> -> tensor<64x128xi1>
      %59 = tile.splat %cst : bf16 -> tensor<64x128xbf16>
      %60 = tile.load %arg12, %58, %59 : (tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi1>, tensor<64x128xbf16>) -> tensor<64x128xbf16>
      %61 = tile.dot %55, %60, %arg10 : tensor<128x64xbf16>, tensor<64x128xbf16> -> tensor<128x128xf32>
      %62 = tile.splat %c64_i32 : i32 -> tensor<128x64xi32>
      %63 = tile.addptr %arg11, %62 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
      %64 = arith.muli %arg7, %c64_i32 : i32
      %65 = tile.splat %64 : i32 -> tensor<64x128xi32>
      %66 = tile.addptr %arg12, %65 : tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi32>
      scf.yield %61, %63, %66 : tensor<128x128xf32>, tensor<128x64x!tile.ptr<bf16>>, tensor<64x128x!tile.ptr<bf16>>
    }
    %36 = arith.truncf %35#0 : tensor<128x128xf32> to tensor<128x128xbf16>
    %37 = tile.splat %arg8 : i32 -> tensor<128x1xi32>
    %38 = arith.muli %10, %37 : tensor<128x1xi32>
    %39 = tile.splat %arg2 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %40 = tile.addptr %39, %38 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %41 = tile.broadcast %40 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x128x!tile.ptr<bf16>>
    %42 = tile.broadcast %28 : tensor<1x128xi32> -> tensor<128x128xi32>
    %43 = tile.addptr %41, %42 : tensor<128x128x!tile.ptr<bf16>>, tensor<128x128xi32>
    %44 = tile.splat %arg3 : i32 -> tensor<128x1xi32>
    %45 = arith.cmpi slt, %10, %44 : tensor<128x1xi32>
    %46 = tile.splat %arg4 : i32 -> tensor<1x128xi32>
    %47 = arith.cmpi slt, %26, %46 : tensor<1x128xi32>
    %48 = tile.broadcast %45 : tensor<128x1xi1> -> tensor<128x128xi1>
    %49 = tile.broadcast %47 : tensor<1x128xi1> -> tensor<128x128xi1>
    %50 = arith.andi %48, %49 : tensor<128x128xi1>
    tile.store %43, %36, %50 {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<128x128x!tile.ptr<bf16>>, tensor<128x128xbf16>, tensor<128x128xi1>) -> ()
    return
  }
  func.func @matmul_tf32(%arg0: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %arg1: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %arg2: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %arg3: i32 {tile.divisibility = 16 : i32}, %arg4: i32 {tile.divisibility = 16 : i32}, %arg5: i32 {tile.divisibility = 16 : i32}, %arg6: i32 {tile.divisibility = 16 : i32}, %arg7: i32 {tile.divisibility = 16 : i32}, %arg8: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
    %cst = arith.constant 0.000000e+00 : f32
    %c63_i32 = arith.constant 31 : i32
    %c0_i32 = arith.constant 0 : i32
    %c64_i32 = arith.constant 32 : i32
    %cst_0 = arith.constant 0.000000e+00 : f32
    %c1_i32 = arith.constant 1 : i32
    %c128_i32 = arith.constant 64 : i32
    %0 = tile.program_id 0 : i32
    %1 = tile.program_id 1 : i32
    %2 = arith.muli %0, %c128_i32 : i32
    %3 = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %4 = tile.splat %2 : i32 -> tensor<64xi32>
    %5 = arith.addi %4, %3 : tensor<64xi32>
    %6 = arith.muli %1, %c128_i32 : i32
    %7 = tile.splat %6 : i32 -> tensor<64xi32>
    %8 = arith.addi %7, %3 : tensor<64xi32>
    %9 = tile.make_range {end = 32 : i32, start = 0 : i32} : tensor<32xi32>
    %10 = tile.expand_dims %5 {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %11 = tile.splat %arg6 : i32 -> tensor<64x1xi32>
    %12 = arith.muli %10, %11 : tensor<64x1xi32>
    %13 = tile.splat %arg0 : !tile.ptr<f32> -> tensor<64x1x!tile.ptr<f32>>
    %14 = tile.addptr %13, %12 : tensor<64x1x!tile.ptr<f32>>, tensor<64x1xi32>
    %15 = tile.expand_dims %9 {axis = 0 : i32} : tensor<32xi32> -> tensor<1x32xi32>
    %16 = tile.splat %c1_i32 : i32 -> tensor<1x32xi32>
    %17 = arith.muli %15, %16 : tensor<1x32xi32>
    %18 = tile.broadcast %14 : tensor<64x1x!tile.ptr<f32>> -> tensor<64x32x!tile.ptr<f32>>
    %19 = tile.broadcast %17 : tensor<1x32xi32> -> tensor<64x32xi32>
    %20 = tile.addptr %18, %19 : tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi32>
    %21 = tile.expand_dims %9 {axis = 1 : i32} : tensor<32xi32> -> tensor<32x1xi32>
    %22 = tile.splat %arg7 : i32 -> tensor<32x1xi32>
    %23 = arith.muli %21, %22 : tensor<32x1xi32>
    %24 = tile.splat %arg1 : !tile.ptr<f32> -> tensor<32x1x!tile.ptr<f32>>
    %25 = tile.addptr %24, %23 : tensor<32x1x!tile.ptr<f32>>, tensor<32x1xi32>
    %26 = tile.expand_dims %8 {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %27 = tile.splat %c1_i32 : i32 -> tensor<1x64xi32>
    %28 = arith.muli %26, %27 : tensor<1x64xi32>
    %29 = tile.broadcast %25 : tensor<32x1x!tile.ptr<f32>> -> tensor<32x64x!tile.ptr<f32>>
    %30 = tile.broadcast %28 : tensor<1x64xi32> -> tensor<32x64xi32>
    %31 = tile.addptr %29, %30 : tensor<32x64x!tile.ptr<f32>>, tensor<32x64xi32>
    %32 = tile.splat %cst_0 : f32 -> tensor<64x64xf32>
    %33 = arith.addi %arg5, %c63_i32 : i32
    %34 = arith.divsi %33, %c64_i32 : i32
    %35:3 = scf.for %arg9 = %c0_i32 to %34 step %c1_i32 iter_args(%arg10 = %32, %arg11 = %20, %arg12 = %31) -> (tensor<64x64xf32>, tensor<64x32x!tile.ptr<f32>>, tensor<32x64x!tile.ptr<f32>>)  : i32 {
      %51 = tile.splat %arg3 : i32 -> tensor<64x1xi32>
      %52 = arith.cmpi slt, %10, %51 : tensor<64x1xi32>
      %53 = tile.broadcast %52 : tensor<64x1xi1> -> tensor<64x32xi1>
      %54 = tile.splat %cst : f32 -> tensor<64x32xf32>
      %55 = tile.load %arg11, %53, %54 : (tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi1>, tensor<64x32xf32>) -> tensor<64x32xf32>
      %56 = tile.splat %arg4 : i32 -> tensor<1x64xi32>
      %57 = arith.cmpi slt, %26, %56 : tensor<1x64xi32>
      %58 = tile.broadcast %57 : tensor<1x64xi1> -> tensor<32x64xi1>
      %59 = tile.splat %cst : f32 -> tensor<32x64xf32>
      %60 = tile.load %arg12, %58, %59 : (tensor<32x64x!tile.ptr<f32>>, tensor<32x64xi1>, tensor<32x64xf32>) -> tensor<32x64xf32>
      %61 = tile.dot %55, %60, %arg10 {input_precision = "tf32"} : tensor<64x32xf32>, tensor<32x64xf32> -> tensor<64x64xf32>
      %62 = tile.splat %c64_i32 : i32 -> tensor<64x32xi32>
      %63 = tile.addptr %arg11, %62 : tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi32>
      %64 = arith.muli %arg7, %c64_i32 : i32
      %65 = tile.splat %64 : i32 -> tensor<32x64xi32>
      %66 = tile.addptr %arg12, %65 : tensor<32x64x!tile.ptr<f32>>, tensor<32x64xi32>
      scf.yield %61, %63, %66 : tensor<64x64xf32>, tensor<64x32x!tile.ptr<f32>>, tensor<32x64x!tile.ptr<f32>>
    }
        %37 = tile.splat %arg8 : i32 -> tensor<64x1xi32>
    %38 = arith.muli %10, %37 : tensor<64x1xi32>
    %39 = tile.splat %arg2 : !tile.ptr<f32> -> tensor<64x1x!tile.ptr<f32>>
    %40 = tile.addptr %39, %38 : tensor<64x1x!tile.ptr<f32>>, tensor<64x1xi32>
    %41 = tile.broadcast %40 : tensor<64x1x!tile.ptr<f32>> -> tensor<64x64x!tile.ptr<f32>>
    %42 = tile.broadcast %28 : tensor<1x64xi32> -> tensor<64x64xi32>
    %43 = tile.addptr %41, %42 : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
    %44 = tile.splat %arg3 : i32 -> tensor<64x1xi32>
    %45 = arith.cmpi slt, %10, %44 : tensor<64x1xi32>
    %46 = tile.splat %arg4 : i32 -> tensor<1x64xi32>
    %47 = arith.cmpi slt, %26, %46 : tensor<1x64xi32>
    %48 = tile.broadcast %45 : tensor<64x1xi1> -> tensor<64x64xi1>
    %49 = tile.broadcast %47 : tensor<1x64xi1> -> tensor<64x64xi1>
    %50 = arith.andi %48, %49 : tensor<64x64xi1>
    tile.store %43, %35#0, %50 {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>, tensor<64x64xi1>) -> ()
    return
  }

  func.func @matmul_tma(%arg0: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg1: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg2: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %arg3: i32 {tile.divisibility = 16 : i32}, %arg4: i32 {tile.divisibility = 16 : i32}, %arg5: i32 {tile.divisibility = 16 : i32}, %arg6: i32 {tile.divisibility = 16 : i32}, %arg7: i32 {tile.divisibility = 16 : i32}, %arg8: i32 {tile.divisibility = 16 : i32}, %descA: !tile.tensormap, %descB: !tile.tensormap) attributes {tile.kernel} {
    %cst = arith.constant 0.000000e+00 : bf16
    %c63_i32 = arith.constant 63 : i32
    %c0_i32 = arith.constant 0 : i32
    %c64_i32 = arith.constant 64 : i32
    %cst_0 = arith.constant 0.000000e+00 : f32
    %c1_i32 = arith.constant 1 : i32
    %c128_i32 = arith.constant 128 : i32
    %0 = tile.program_id 0 : i32
    %1 = tile.program_id 1 : i32
    %row = arith.muli %0, %c128_i32 : i32
    %3 = tile.make_range {end = 128 : i32, start = 0 : i32} : tensor<128xi32>
    %4 = tile.splat %row : i32 -> tensor<128xi32>
    %5 = arith.addi %4, %3 : tensor<128xi32>
    %col = arith.muli %1, %c128_i32 : i32
    %7 = tile.splat %col : i32 -> tensor<128xi32>
    %8 = arith.addi %7, %3 : tensor<128xi32>
    %9 = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %10 = tile.expand_dims %5 {axis = 1 : i32} : tensor<128xi32> -> tensor<128x1xi32>
    %11 = tile.splat %arg6 : i32 -> tensor<128x1xi32>
    %12 = arith.muli %10, %11 : tensor<128x1xi32>
    %13 = tile.splat %arg0 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %14 = tile.addptr %13, %12 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %15 = tile.expand_dims %9 {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %18 = tile.broadcast %14 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x64x!tile.ptr<bf16>>
    %19 = tile.broadcast %15 : tensor<1x64xi32> -> tensor<128x64xi32>
    %20 = tile.addptr %18, %19 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
    %21 = tile.expand_dims %9 {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %22 = tile.splat %arg7 : i32 -> tensor<64x1xi32>
    %23 = arith.muli %21, %22 : tensor<64x1xi32>
    %24 = tile.splat %arg1 : !tile.ptr<bf16> -> tensor<64x1x!tile.ptr<bf16>>
    %25 = tile.addptr %24, %23 : tensor<64x1x!tile.ptr<bf16>>, tensor<64x1xi32>
    %26 = tile.expand_dims %8 {axis = 0 : i32} : tensor<128xi32> -> tensor<1x128xi32>
    %29 = tile.broadcast %25 : tensor<64x1x!tile.ptr<bf16>> -> tensor<64x128x!tile.ptr<bf16>>
    %30 = tile.broadcast %26 : tensor<1x128xi32> -> tensor<64x128xi32>
    %31 = tile.addptr %29, %30 : tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi32>
    %32 = tile.splat %cst_0 : f32 -> tensor<128x128xf32>
    %33 = arith.addi %arg5, %c63_i32 : i32
    %34 = arith.divsi %33, %c64_i32 : i32
    %35:3 = scf.for %iv = %c0_i32 to %34 step %c1_i32 iter_args(%arg10 = %32, %arg11 = %20, %arg12 = %31) -> (tensor<128x128xf32>, tensor<128x64x!tile.ptr<bf16>>, tensor<64x128x!tile.ptr<bf16>>)  : i32 {
      %k = arith.muli %iv, %c64_i32 : i32
      %51 = tile.splat %arg3 : i32 -> tensor<128x1xi32>
      %52 = arith.cmpi slt, %10, %51 : tensor<128x1xi32>
      %53 = tile.broadcast %52 : tensor<128x1xi1> -> tensor<128x64xi1>
      %54 = tile.splat %cst : bf16 -> tensor<128x64xbf16>
      %55 = tile.load %arg11, %53, %54 tma(%descA[%row, %k]) : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi1>, tensor<128x64xbf16>, !tile.tensormap, i32, i32) -> tensor<128x64xbf16>
      %56 = tile.splat %arg4 : i32 -> tensor<1x128xi32>
      %57 = arith.cmpi slt, %26, %56 : tensor<1x128xi32>
      %58 = tile.broadcast %57 : tensor<1x128xi1> -> tensor<64x128xi1>
      %59 = tile.splat %cst : bf16 -> tensor<64x128xbf16>
      %60 = tile.load %arg12, %58, %59 tma(%descB[%k, %col]) : (tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi1>, tensor<64x128xbf16>, !tile.tensormap, i32, i32) -> tensor<64x128xbf16>
      %61 = tile.dot %55, %60, %arg10 : tensor<128x64xbf16>, tensor<64x128xbf16> -> tensor<128x128xf32>
      %62 = tile.splat %c64_i32 : i32 -> tensor<128x64xi32>
      %63 = tile.addptr %arg11, %62 : tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi32>
      %64 = arith.muli %arg7, %c64_i32 : i32
      %65 = tile.splat %64 : i32 -> tensor<64x128xi32>
      %66 = tile.addptr %arg12, %65 : tensor<64x128x!tile.ptr<bf16>>, tensor<64x128xi32>
      scf.yield %61, %63, %66 : tensor<128x128xf32>, tensor<128x64x!tile.ptr<bf16>>, tensor<64x128x!tile.ptr<bf16>>
    }
    %36 = arith.truncf %35#0 : tensor<128x128xf32> to tensor<128x128xbf16>
    %37 = tile.splat %arg8 : i32 -> tensor<128x1xi32>
    %38 = arith.muli %10, %37 : tensor<128x1xi32>
    %39 = tile.splat %arg2 : !tile.ptr<bf16> -> tensor<128x1x!tile.ptr<bf16>>
    %40 = tile.addptr %39, %38 : tensor<128x1x!tile.ptr<bf16>>, tensor<128x1xi32>
    %41 = tile.broadcast %40 : tensor<128x1x!tile.ptr<bf16>> -> tensor<128x128x!tile.ptr<bf16>>
    %42 = tile.broadcast %26 : tensor<1x128xi32> -> tensor<128x128xi32>
    %43 = tile.addptr %41, %42 : tensor<128x128x!tile.ptr<bf16>>, tensor<128x128xi32>
    %44 = tile.splat %arg3 : i32 -> tensor<128x1xi32>
    %45 = arith.cmpi slt, %10, %44 : tensor<128x1xi32>
    %46 = tile.splat %arg4 : i32 -> tensor<1x128xi32>
    %47 = arith.cmpi slt, %26, %46 : tensor<1x128xi32>
    %48 = tile.broadcast %45 : tensor<128x1xi1> -> tensor<128x128xi1>
    %49 = tile.broadcast %47 : tensor<1x128xi1> -> tensor<128x128xi1>
    %50 = arith.andi %48, %49 : tensor<128x128xi1>
    tile.store %43, %36, %50 {operandSegmentSizes = array<i32: 1, 1, 1>} : (tensor<128x128x!tile.ptr<bf16>>, tensor<128x128xbf16>, tensor<128x128xi1>) -> ()
    return
  }

  func.func @paged(%a: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %b: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %table: !tile.ptr<i32> {tile.divisibility = 16 : i32}, %c: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32, %page_stride: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
    %c0_i32 = arith.constant 0 : i32
    %c1_i32 = arith.constant 1 : i32
    %c64_i32 = arith.constant 64 : i32
    %zero = arith.constant 0.000000e+00 : f32
    %range = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %rows = tile.expand_dims %range {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %cols = tile.expand_dims %range {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %row_stride = tile.splat %c64_i32 : i32 -> tensor<64x1xi32>
    %row_offsets = arith.muli %rows, %row_stride : tensor<64x1xi32>
    %row_offsets2 = tile.broadcast %row_offsets : tensor<64x1xi32> -> tensor<64x64xi32>
    %col_offsets = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
    %offsets = arith.addi %row_offsets2, %col_offsets : tensor<64x64xi32>
    %a_base = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %a_ptrs = tile.addptr %a_base, %offsets : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %a_block = tile.load %a_ptrs : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
    %acc0 = tile.splat %zero : f32 -> tensor<64x64xf32>
    %result:2 = scf.for %i = %c0_i32 to %n step %c1_i32 iter_args(%acc = %acc0, %slot = %table) -> (tensor<64x64xf32>, !tile.ptr<i32>) : i32 {
      %page = tile.load %slot : (!tile.ptr<i32>) -> i32
      %page_offset = arith.muli %page, %page_stride : i32
      %page_base = tile.addptr %b, %page_offset : !tile.ptr<bf16>, i32
      %b_base = tile.splat %page_base : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
      %b_ptrs = tile.addptr %b_base, %offsets : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %b_block = tile.load %b_ptrs : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %dot = tile.dot %a_block, %b_block, %acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
      %next = tile.addptr %slot, %c1_i32 : !tile.ptr<i32>, i32
      scf.yield %dot, %next : tensor<64x64xf32>, !tile.ptr<i32>
    }
    %c_base = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
    %c_ptrs = tile.addptr %c_base, %offsets : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
    tile.store %c_ptrs, %result#0 : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>) -> ()
    return
  }

  func.func @paged_storing(%a: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %b: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %table: !tile.ptr<i32> {tile.divisibility = 16 : i32}, %c: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32, %page_stride: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
    %c0_i32 = arith.constant 0 : i32
    %c1_i32 = arith.constant 1 : i32
    %c64_i32 = arith.constant 64 : i32
    %zero = arith.constant 0.000000e+00 : f32
    %range = tile.make_range {end = 64 : i32, start = 0 : i32} : tensor<64xi32>
    %rows = tile.expand_dims %range {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
    %cols = tile.expand_dims %range {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
    %row_stride = tile.splat %c64_i32 : i32 -> tensor<64x1xi32>
    %row_offsets = arith.muli %rows, %row_stride : tensor<64x1xi32>
    %row_offsets2 = tile.broadcast %row_offsets : tensor<64x1xi32> -> tensor<64x64xi32>
    %col_offsets = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
    %offsets = arith.addi %row_offsets2, %col_offsets : tensor<64x64xi32>
    %a_base = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
    %a_ptrs = tile.addptr %a_base, %offsets : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
    %a_block = tile.load %a_ptrs : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
    %acc0 = tile.splat %zero : f32 -> tensor<64x64xf32>
    %result:2 = scf.for %i = %c0_i32 to %n step %c1_i32 iter_args(%acc = %acc0, %slot = %table) -> (tensor<64x64xf32>, !tile.ptr<i32>) : i32 {
      %page = tile.load %slot : (!tile.ptr<i32>) -> i32
      %page_offset = arith.muli %page, %page_stride : i32
      %page_base = tile.addptr %b, %page_offset : !tile.ptr<bf16>, i32
      %b_base = tile.splat %page_base : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
      %b_ptrs = tile.addptr %b_base, %offsets : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %b_block = tile.load %b_ptrs : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %dot = tile.dot %a_block, %b_block, %acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
      tile.store %c, %zero : (!tile.ptr<f32>, f32) -> ()
      %next = tile.addptr %slot, %c1_i32 : !tile.ptr<i32>, i32
      scf.yield %dot, %next : tensor<64x64xf32>, !tile.ptr<i32>
    }
    %c_base = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
    %c_ptrs = tile.addptr %c_base, %offsets : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
    tile.store %c_ptrs, %result#0 : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>) -> ()
    return
  }
}
