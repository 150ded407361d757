// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --tilegpu-remove-layout-conversions --canonicalize --convert-tilegpu-to-llvm --split-input-file | FileCheck %s
// RUN: tessera-opt %s --convert-tile-to-tilegpu="num-warps=4 target=sm_90a" --tilegpu-remove-layout-conversions --canonicalize --convert-tilegpu-to-llvm --split-input-file | FileCheck %s --check-prefix=HOPPER

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
// each warp's partial stored by its first lane alone (after the shuffles all 32 hold it), and
// that the kernel records the scratch it needs.
// CHECK: tilegpu.shared = 16 : i32
// CHECK: llvm.mlir.global external @tessera_smem() {addr_space = 3 : i32
// CHECK-LABEL: llvm.func @total
// CHECK-COUNT-5: nvvm.shfl.sync bfly
// CHECK: %[[FIRST_LANE:.*]] = llvm.icmp "eq" %{{.*}}, %{{.*}} : i32
// CHECK-NEXT: nvvm.barrier0
// CHECK-NEXT: scf.if %[[FIRST_LANE]] {
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK-NEXT: }
// CHECK-NEXT: nvvm.barrier0
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

// Tests that a max combines a thread's elements, and the warps' partials, as a balanced tree
// (pairs first), which is exact for max.
// CHECK-LABEL: llvm.func @row_max
// CHECK: %[[E0:.*]] = llvm.extractvalue %[[V:.*]][0] : !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[E1:.*]] = llvm.extractvalue %[[V]][1] : !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[E2:.*]] = llvm.extractvalue %[[V]][2] : !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[E3:.*]] = llvm.extractvalue %[[V]][3] : !llvm.struct<(f32, f32, f32, f32)>
// CHECK: %[[M01:.*]] = llvm.call @__nv_fmaxf(%[[E0]], %[[E1]])
// CHECK: %[[M23:.*]] = llvm.call @__nv_fmaxf(%[[E2]], %[[E3]])
// CHECK: llvm.call @__nv_fmaxf(%[[M01]], %[[M23]])
// CHECK: nvvm.barrier0
// CHECK: %[[W0:.*]] = llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK: %[[W1:.*]] = llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK: %[[W2:.*]] = llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK: %[[W3:.*]] = llvm.load {{.*}} : !llvm.ptr<3> -> f32
// CHECK: %[[P01:.*]] = llvm.call @__nv_fmaxf(%[[W0]], %[[W1]])
// CHECK: %[[P23:.*]] = llvm.call @__nv_fmaxf(%[[W2]], %[[W3]])
// CHECK: llvm.call @__nv_fmaxf(%[[P01]], %[[P23]])
module {
func.func @row_max(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 512 : i32} : tensor<512xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<512x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<512x!tile.ptr<f32>>, tensor<512xi32>
  %v = tile.load %p : (tensor<512x!tile.ptr<f32>>) -> tensor<512xf32>
  %m = tile.reduce(%v) {axis = 0 : i32} : (tensor<512xf32>) -> f32 {
  ^bb0(%a: f32, %b: f32):
    %c = arith.maxnumf %a, %b : f32
    tile.reduce.return %c : f32
  }
  tile.store %x, %m : (!tile.ptr<f32>, f32) -> ()
  return
}
}

// -----

// Tests that fp32 division, exp and exp2 follow Triton: div.full.f32, ex2.approx.f32 of
// x*log2(e), and ex2.approx.ftz.f32 (subnormals flushed: no fix-up around MUFU.EX2).
// CHECK-LABEL: llvm.func @fast_math
// CHECK: llvm.fmul {{.*}} : f32
// CHECK: llvm.inline_asm "ex2.approx.f32 $0, $1;", "=f,f"
// CHECK: llvm.inline_asm "ex2.approx.ftz.f32 $0, $1;", "=f,f"
// CHECK: llvm.inline_asm "div.full.f32 $0, $1, $2;", "=f,f,f"
module {
func.func @fast_math(%x: !tile.ptr<f32>, %y: f32) attributes {tile.kernel} {
  %v = tile.load %x : (!tile.ptr<f32>) -> f32
  %e = math.exp %v : f32
  %e2 = math.exp2 %e : f32
  %d = arith.divf %e2, %y : f32
  tile.store %x, %d : (!tile.ptr<f32>, f32) -> ()
  return
}
}

// -----

// Tests that the epilogue's conversion from the wgmma layout to the store layout stays within
// each warp: one CTA barrier (the scratch may be in use), then per 128-byte row segment 4-byte
// writes of column pairs, a warp barrier and 16-byte reads; C is stored in 16-byte runs.
// HOPPER-LABEL: llvm.func @dot_store
// HOPPER: wgmma.wait_group.sync.aligned
// HOPPER: nvvm.barrier0
// HOPPER-NOT: nvvm.barrier0
// HOPPER: llvm.store {{.*}} : vector<2xbf16>, !llvm.ptr<3>
// HOPPER: nvvm.bar.warp.sync
// HOPPER: llvm.load {{.*}} : !llvm.ptr<3> -> vector<8xbf16>
// HOPPER-NOT: nvvm.barrier0
// HOPPER: llvm.store {{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<1>
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

// Tests that a wgmma with B in registers passes four 32-bit registers of B^T and one descriptor
// (of A, as wgmma's K-major B) per k step of 8: 64 x 64 x 64 in eight instructions.
// HOPPER-LABEL: llvm.func @tf32_register_b
// HOPPER-COUNT-8: wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 {{.*}}}, {$64, $65, $66, $67}, $68, p, 1, 1;
// HOPPER-NOT: wgmma.mma_async
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

// Tests that TMA copies lower to inline PTX. The kernel takes the tensor map by value, as a
// 64-byte aligned 128-byte grid constant. The mbarriers sit after the ring (at 32 KiB); the first
// thread initialises them and fences the initialisation before a CTA barrier. For a 64x128 bf16
// buffer with 128-byte swizzle, that thread arrives on the slot's mbarrier expecting 16 KiB and
// issues one bulk tensor copy per 64-column box (8 KiB apart), while the others branch around;
// every thread then spins on the mbarrier until the phase of the given parity completes.
// HOPPER: tilegpu.shared = 32784 : i32
// HOPPER-LABEL: llvm.func @tma_copy
// HOPPER-SAME: (%[[DESC:[^:]*]]: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant}, %[[ROW:[^:]*]]: i32, %[[COL:[^:]*]]: i32, %[[SLOT:[^:]*]]: i32, %[[PHASE:[^:]*]]: i32)
// HOPPER: llvm.getelementptr %{{.*}}[32768] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
// HOPPER: llvm.inline_asm has_side_effects "{\0A@$0 mbarrier.init.shared::cta.b64 [$1+0], 1;\0A@$0 mbarrier.init.shared::cta.b64 [$1+8], 1;\0A}", "b,r"
// HOPPER-NEXT: llvm.inline_asm has_side_effects "fence.mbarrier_init.release.cluster;"
// HOPPER-NEXT: nvvm.barrier0
// HOPPER: llvm.inline_asm has_side_effects "{\0A.reg .b32 col;\0A@!$0 bra skip_tma_${:uid};\0Ambarrier.arrive.expect_tx.shared::cta.b64 _, [$1], 16384;\0Aadd.s32 col, $5, 0;\0Acp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$2+0], [$3, {col, $4}], [$1];\0Aadd.s32 col, $5, 64;\0Acp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$2+8192], [$3, {col, $4}], [$1];\0Askip_tma_${:uid}:\0A}", "b,r,r,l,r,r" %{{.*}}, %{{.*}}, %{{.*}}, %[[DESC]], %[[ROW]], %[[COL]] : (i1, i32, i32, !llvm.ptr, i32, i32) -> ()
// HOPPER: %[[OFFSET:.*]] = llvm.mul %[[SLOT]], %{{.*}} : i32
// HOPPER: %[[BARRIER:.*]] = llvm.add %{{.*}}, %[[OFFSET]] : i32
// HOPPER: llvm.inline_asm has_side_effects "{{.*}}mbarrier.try_wait.parity.shared::cta.b64 done, [$0], $1;{{.*}}", "r,r" %[[BARRIER]], %[[PHASE]] : (i32, i32) -> ()
#shared = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
module {
func.func @tma_copy(%desc: !tile.tensormap, %row: i32, %col: i32, %slot: i32, %phase: i32) attributes {tile.kernel} {
  %true = arith.constant true
  %ring = tilegpu.local_alloc : () -> !tilegpu.memdesc<2x64x128xbf16, #shared>
  %bars = tilegpu.init_barriers {arrivals = 1 : i32} : !tilegpu.mbarriers<2>
  %buf = tilegpu.memdesc_index %ring[%slot] : !tilegpu.memdesc<2x64x128xbf16, #shared> -> !tilegpu.memdesc<64x128xbf16, #shared>
  tilegpu.async_tma_load %desc[%row, %col], %buf, %bars[%slot], %true : !tile.tensormap, !tilegpu.memdesc<64x128xbf16, #shared>, !tilegpu.mbarriers<2>
  tilegpu.wait_barrier %bars[%slot], %phase : !tilegpu.mbarriers<2>
  return
}
}

// -----

// Tests that the shared-memory blocks of two loops nested in one outer loop share memory: both
// start at offset 0, and a block taking memory over does so after a barrier.
// HOPPER-LABEL: llvm.func @sibling_loops
// HOPPER: nvvm.barrier0
// HOPPER-NEXT: %[[FIRST:.*]] = llvm.mlir.addressof @tessera_smem
// HOPPER-NEXT: llvm.getelementptr %[[FIRST]][0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
// HOPPER-NOT: [{{[0-9]+}}] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
// HOPPER: %[[SECOND:.*]] = llvm.mlir.addressof @tessera_smem
// HOPPER-NEXT: llvm.getelementptr %[[SECOND]][0] : (!llvm.ptr<3>) -> !llvm.ptr<3>, i8
module {
func.func @sibling_loops(%a: !tile.ptr<bf16> {tile.divisibility = 16 : i32}, %c: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %c64 = arith.constant 64 : i32
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %s = tile.splat %c64 : i32 -> tensor<64x1xi32>
  %ro = arith.muli %rows, %s : tensor<64x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<64xi32> -> tensor<1x64xi32>
  %rob = tile.broadcast %ro : tensor<64x1xi32> -> tensor<64x64xi32>
  %colb = tile.broadcast %cols : tensor<1x64xi32> -> tensor<64x64xi32>
  %off = arith.addi %rob, %colb : tensor<64x64xi32>
  %as = tile.splat %a : !tile.ptr<bf16> -> tensor<64x64x!tile.ptr<bf16>>
  %ap = tile.addptr %as, %off : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
  %cs = tile.splat %c : !tile.ptr<f32> -> tensor<64x64x!tile.ptr<f32>>
  %cp = tile.addptr %cs, %off : tensor<64x64x!tile.ptr<f32>>, tensor<64x64xi32>
  %zero = arith.constant 0.0 : f32
  %acc0 = tile.splat %zero : f32 -> tensor<64x64xf32>
  %out = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %acc0) -> (tensor<64x64xf32>) : i32 {
    %first = scf.for %j = %c0 to %n step %c1 iter_args(%x_acc = %acc) -> (tensor<64x64xf32>) : i32 {
      %step = tile.splat %j : i32 -> tensor<64x64xi32>
      %p = tile.addptr %ap, %step : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %x = tile.load %p : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %d = tile.dot %x, %x, %x_acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
      scf.yield %d : tensor<64x64xf32>
    }
    %second = scf.for %j = %c0 to %n step %c1 iter_args(%y_acc = %first) -> (tensor<64x64xf32>) : i32 {
      %step = tile.splat %j : i32 -> tensor<64x64xi32>
      %p = tile.addptr %ap, %step : tensor<64x64x!tile.ptr<bf16>>, tensor<64x64xi32>
      %y = tile.load %p : (tensor<64x64x!tile.ptr<bf16>>) -> tensor<64x64xbf16>
      %d = tile.dot %y, %y, %y_acc : tensor<64x64xbf16>, tensor<64x64xbf16> -> tensor<64x64xf32>
      scf.yield %d : tensor<64x64xf32>
    }
    scf.yield %second : tensor<64x64xf32>
  }
  tile.store %cp, %out : (tensor<64x64x!tile.ptr<f32>>, tensor<64x64xf32>) -> ()
  return
}
}

// -----

// Tests that a layout conversion through shared memory pads each 128-byte row by 16 bytes (the
// 32 x 32 fp32 transpose takes 32 x 36 slots), so that a warp reading or writing down a column
// spreads over the banks.
// CHECK: tilegpu.shared = 4608 : i32
// CHECK-LABEL: llvm.func @transpose
// CHECK: llvm.mlir.constant(36 : i32)
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
module {
func.func @transpose(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %y: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 32 : i32} : tensor<32xi32>
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<32xi32> -> tensor<32x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<32xi32> -> tensor<1x32xi32>
  %c32 = arith.constant dense<32> : tensor<32x1xi32>
  %rs = arith.muli %rows, %c32 : tensor<32x1xi32>
  %rb = tile.broadcast %rs : tensor<32x1xi32> -> tensor<32x32xi32>
  %cb = tile.broadcast %cols : tensor<1x32xi32> -> tensor<32x32xi32>
  %offs = arith.addi %rb, %cb : tensor<32x32xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %px = tile.addptr %xs, %offs : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  %v = tile.load %px : (tensor<32x32x!tile.ptr<f32>>) -> tensor<32x32xf32>
  %t = tile.trans %v {order = array<i32: 1, 0>} : tensor<32x32xf32> -> tensor<32x32xf32>
  %ys = tile.splat %y : !tile.ptr<f32> -> tensor<32x32x!tile.ptr<f32>>
  %py = tile.addptr %ys, %offs : tensor<32x32x!tile.ptr<f32>>, tensor<32x32xi32>
  tile.store %py, %t : (tensor<32x32x!tile.ptr<f32>>, tensor<32x32xf32>) -> ()
  return
}
}

// -----

// Tests that a layout conversion of a block its layout repeats over threads (4 x 4 elements over
// 128) is written to shared memory by the first copy of each element alone, between the
// barriers: racecheck counts writes of one slot from several warps as hazards.
// CHECK-LABEL: llvm.func @small_transpose
// CHECK: nvvm.barrier0
// CHECK: llvm.icmp "ult"
// CHECK: scf.if %{{.*}} {
// CHECK: llvm.store {{.*}} : f32, !llvm.ptr<3>
// CHECK: }
// CHECK-NEXT: nvvm.barrier0
// CHECK: llvm.load {{.*}} : !llvm.ptr<3> -> f32
module {
func.func @small_transpose(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %y: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 4 : i32} : tensor<4xi32>
  %rows = tile.expand_dims %r {axis = 1 : i32} : tensor<4xi32> -> tensor<4x1xi32>
  %cols = tile.expand_dims %r {axis = 0 : i32} : tensor<4xi32> -> tensor<1x4xi32>
  %c4 = arith.constant dense<4> : tensor<4x1xi32>
  %rs = arith.muli %rows, %c4 : tensor<4x1xi32>
  %rb = tile.broadcast %rs : tensor<4x1xi32> -> tensor<4x4xi32>
  %cb = tile.broadcast %cols : tensor<1x4xi32> -> tensor<4x4xi32>
  %offs = arith.addi %rb, %cb : tensor<4x4xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<4x4x!tile.ptr<f32>>
  %px = tile.addptr %xs, %offs : tensor<4x4x!tile.ptr<f32>>, tensor<4x4xi32>
  %v = tile.load %px : (tensor<4x4x!tile.ptr<f32>>) -> tensor<4x4xf32>
  %t = tile.trans %v {order = array<i32: 1, 0>} : tensor<4x4xf32> -> tensor<4x4xf32>
  %ys = tile.splat %y : !tile.ptr<f32> -> tensor<4x4x!tile.ptr<f32>>
  %py = tile.addptr %ys, %offs : tensor<4x4x!tile.ptr<f32>>, tensor<4x4xi32>
  tile.store %py, %t : (tensor<4x4x!tile.ptr<f32>>, tensor<4x4xf32>) -> ()
  return
}
}

// -----

// Tests that an atomic on a block of 64 elements over 128 threads is applied by the first two
// warps only (warps 2 and 3 hold copies), each element by one predicated `atom` whose old value
// is zero where it is not applied.
// CHECK-LABEL: llvm.func @histogram
// CHECK: llvm.icmp "ult" %{{.*}}, %{{.*}} : i32
// CHECK: llvm.inline_asm has_side_effects "{\0A.reg .pred p;\0Asetp.ne.b32 p, $3, 0;\0Amov.b32 $0, 0;\0A@p atom.acq_rel.gpu.global.add.u32 $0, [$1], $2;\0A}", "=r,l,r,r"
module {
func.func @histogram(%x: !tile.ptr<i32> {tile.divisibility = 16 : i32}, %h: !tile.ptr<i32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %xs = tile.splat %x : !tile.ptr<i32> -> tensor<64x!tile.ptr<i32>>
  %p = tile.addptr %xs, %r : tensor<64x!tile.ptr<i32>>, tensor<64xi32>
  %v = tile.load %p : (tensor<64x!tile.ptr<i32>>) -> tensor<64xi32>
  %hs = tile.splat %h : !tile.ptr<i32> -> tensor<64x!tile.ptr<i32>>
  %q = tile.addptr %hs, %v : tensor<64x!tile.ptr<i32>>, tensor<64xi32>
  %one = arith.constant dense<1> : tensor<64xi32>
  %old = tile.atomic_rmw "add" %q, %one : (tensor<64x!tile.ptr<i32>>, tensor<64xi32>) -> tensor<64xi32>
  return
}
}

// -----

// Tests that a scalar atomic is applied by thread 0 alone (lane 0 of warp 0), which shares its
// old value through two slots of shared memory between barriers.
// CHECK: tilegpu.shared = 8 : i32
// CHECK-LABEL: llvm.func @ticket
// CHECK: llvm.icmp "eq"
// CHECK: llvm.icmp "eq"
// CHECK: atom.relaxed.cta.global.add.f32
// CHECK: nvvm.barrier0
// CHECK: llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr<3>
// CHECK: nvvm.barrier0
// CHECK: llvm.load %{{.*}} : !llvm.ptr<3> -> f32
module {
func.func @ticket(%c: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %o: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %one = arith.constant 1.0 : f32
  %old = tile.atomic_rmw "fadd" %c, %one {sem = "relaxed", scope = "cta"} : (!tile.ptr<f32>, f32) -> f32
  tile.store %o, %old : (!tile.ptr<f32>, f32) -> ()
  return
}
}

// -----

// Tests that tile.print gives each element a thread holds one vprintf of a format with the
// program id and the index, its arguments in a buffer allocated once at the kernel's entry.
// CHECK-DAG: llvm.func @vprintf(!llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: llvm.mlir.global internal constant @tessera_print_format_0("pid (%d, %d, %d) idx (%d) x %.9g, %d\0A\00")
// CHECK-LABEL: llvm.func @print
// CHECK: llvm.alloca %{{.*}} x !llvm.struct<(i32, i32, i32, i32, f64, i32)>
// CHECK: nvvm.read.ptx.sreg.ctaid.x
// CHECK: llvm.fpext %{{.*}} : f32 to f64
// CHECK: llvm.call @vprintf
module {
func.func @print(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %n: i32) attributes {tile.kernel} {
  %r = tile.make_range {start = 0 : i32, end = 128 : i32} : tensor<128xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<128x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<128x!tile.ptr<f32>>, tensor<128xi32>
  %v = tile.load %p : (tensor<128x!tile.ptr<f32>>) -> tensor<128xf32>
  tile.print %v, %n : tensor<128xf32>, i32 {prefix = "x ", hex = false, is_signed = array<i1: true, true>}
  return
}
}
