// RUN: tessera-opt --help | FileCheck %s
// tessera-opt knows the Tessera dialects and passes and the upstream passes the pipeline uses.

// CHECK: Available Dialects: {{.*}}tile, tilegpu
// CHECK-DAG: --canonicalize
// CHECK-DAG: --convert-arith-to-llvm
// CHECK-DAG: --convert-cf-to-llvm
// CHECK-DAG: --convert-scf-to-cf
// CHECK-DAG: --convert-tile-to-tilegpu
// CHECK-DAG: --convert-tilegpu-to-llvm
// CHECK-DAG: --cse
// CHECK-DAG: --inline
// CHECK-DAG: --reconcile-unrealized-casts
// CHECK-DAG: --tilegpu-remove-layout-conversions
