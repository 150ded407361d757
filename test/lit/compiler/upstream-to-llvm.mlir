// RUN: tessera-opt %s --convert-scf-to-cf --convert-cf-to-llvm --convert-arith-to-llvm \
// RUN:   --reconcile-unrealized-casts --canonicalize --cse | FileCheck %s
// The upstream conversions that the pipeline runs after convert-tilegpu-to-llvm leave only the
// LLVM and NVVM dialects: loops become branches, arith becomes llvm.

// CHECK-LABEL: llvm.func @loop
// CHECK-NOT: scf.
// CHECK-NOT: arith.
// CHECK-NOT: cf.
// CHECK: nvvm.read.ptx.sreg.tid.x
// CHECK: llvm.br ^[[HEAD:bb[0-9]+]]
// CHECK: ^[[HEAD]](%{{.*}}: i32, %{{.*}}: f32):
// CHECK: llvm.icmp "slt"
// CHECK: llvm.cond_br
// CHECK: llvm.call @__nv_expf
// CHECK: llvm.fadd
// CHECK: llvm.add
// CHECK: llvm.return
llvm.func @__nv_expf(f32) -> f32
llvm.func @loop(%n: i32, %init: f32) -> f32 attributes {nvvm.kernel} {
  %c0 = arith.constant 0 : i32
  %c1 = arith.constant 1 : i32
  %tid = nvvm.read.ptx.sreg.tid.x : i32
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %init) -> (f32) : i32 {
    %e = llvm.call @__nv_expf(%acc) : (f32) -> f32
    %t = arith.sitofp %tid : i32 to f32
    %s = arith.addf %e, %t : f32
    scf.yield %s : f32
  }
  llvm.return %r : f32
}
