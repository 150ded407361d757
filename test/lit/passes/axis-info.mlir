// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --split-input-file | FileCheck %s
// RUN: tessera-opt %s --convert-tile-to-tilegpu=num-warps=4 --convert-tilegpu-to-llvm --split-input-file | FileCheck %s --check-prefix=LLVM

// The axis analysis as convert-tile-to-tilegpu reads it: 1024 fp32 values over 128 threads get 4
// elements per thread (16 bytes) where contiguity and alignment are known, else 1.

// Tests that a divisibility hint on pointers (in bytes) makes them as aligned as a specialised
// argument, and that tile.hint lowers to nothing, leaving 16-byte vector accesses.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @hinted_pointers
// CHECK: tile.hint %{{.*}} {divisibility = array<i64: 16>} : !tile.ptr<f32>
// LLVM-LABEL: llvm.func @hinted_pointers
// LLVM-NOT: tile.hint
// LLVM: llvm.load {{.*}} -> vector<4xf32>
// LLVM: llvm.store {{.*}} : vector<4xf32>, !llvm.ptr<1>
module {
func.func @hinted_pointers(%x: !tile.ptr<f32>, %y: !tile.ptr<f32>) attributes {tile.kernel} {
  %xa = tile.hint %x {divisibility = array<i64: 16>} : !tile.ptr<f32>
  %ya = tile.hint %y {divisibility = array<i64: 16>} : !tile.ptr<f32>
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %xs = tile.splat %xa : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  %ys = tile.splat %ya : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %q = tile.addptr %ys, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  tile.store %q, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests Triton's matmul idiom: offsets wrapped by `% m` hide their runs and alignment until
// max_contiguous(multiple_of(offs, 1024), 1024) restores them; the hinted block stays in the
// layout of its operand.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @wrapped_offsets
// CHECK: tile.hint %{{.*}} : tensor<1024xi32, #blocked>
// CHECK-NOT: tilegpu.convert_layout
module {
func.func @wrapped_offsets(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %m: i32) attributes {tile.kernel} {
  %pid = tile.program_id 0 : i32
  %block = arith.constant 1024 : i32
  %start = arith.muli %pid, %block : i32
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %starts = tile.splat %start : i32 -> tensor<1024xi32>
  %offs = arith.addi %starts, %r : tensor<1024xi32>
  %ms = tile.splat %m : i32 -> tensor<1024xi32>
  %wrapped = arith.remsi %offs, %ms : tensor<1024xi32>
  %hinted = tile.hint %wrapped {divisibility = array<i64: 1024>, contiguity = array<i64: 1024>} : tensor<1024xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %hinted : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  tile.store %p, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that the same offsets without the hints get one element per thread.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [1], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @wrapped_offsets_without_hints
module {
func.func @wrapped_offsets_without_hints(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %m: i32) attributes {tile.kernel} {
  %pid = tile.program_id 0 : i32
  %block = arith.constant 1024 : i32
  %start = arith.muli %pid, %block : i32
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %starts = tile.splat %start : i32 -> tensor<1024xi32>
  %offs = arith.addi %starts, %r : tensor<1024xi32>
  %ms = tile.splat %m : i32 -> tensor<1024xi32>
  %wrapped = arith.remsi %offs, %ms : tensor<1024xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %wrapped : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  tile.store %p, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that a hint weaker than what the analysis proves (4 bytes on a 16-byte aligned argument)
// keeps the proven fact.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @weaker_hint
module {
func.func @weaker_hint(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %xa = tile.hint %x {divisibility = array<i64: 4>} : !tile.ptr<f32>
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %xs = tile.splat %xa : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %r : tensor<1024x!tile.ptr<f32>>, tensor<1024xi32>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  tile.store %p, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that offsets times a stride specialised to 1 (a splat of the constant) stay contiguous.
// CHECK: #blocked = #tilegpu.blocked<sizePerThread = [4], threadsPerWarp = [32], warpsPerCTA = [4], order = [0]>
// CHECK-LABEL: func.func @unit_stride
module {
func.func @unit_stride(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %one = arith.constant 1 : i64
  %r = tile.make_range {start = 0 : i32, end = 1024 : i32} : tensor<1024xi32>
  %wide = arith.extsi %r : tensor<1024xi32> to tensor<1024xi64>
  %ones = tile.splat %one : i64 -> tensor<1024xi64>
  %offs = arith.muli %wide, %ones : tensor<1024xi64>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<1024x!tile.ptr<f32>>
  %p = tile.addptr %xs, %offs : tensor<1024x!tile.ptr<f32>>, tensor<1024xi64>
  %v = tile.load %p : (tensor<1024x!tile.ptr<f32>>) -> tensor<1024xf32>
  tile.store %p, %v : (tensor<1024x!tile.ptr<f32>>, tensor<1024xf32>) -> ()
  return
}
}

// -----

// Tests that 2-D pointers built as base + rows[:, None] * stride + cols[None, :] keep the base's
// alignment along the rows: expand_dims gives its new axis what divides every value.
// CHECK: #blocked{{[0-9]*}} = #tilegpu.blocked<sizePerThread = [1, 4]
// CHECK-LABEL: func.func @row_major_tile
module {
func.func @row_major_tile(%x: !tile.ptr<f32> {tile.divisibility = 16 : i32}, %stride: i32 {tile.divisibility = 16 : i32}) attributes {tile.kernel} {
  %rows = tile.make_range {start = 0 : i32, end = 64 : i32} : tensor<64xi32>
  %strides = tile.splat %stride : i32 -> tensor<64xi32>
  %row_offsets = arith.muli %rows, %strides : tensor<64xi32>
  %column = tile.expand_dims %row_offsets {axis = 1 : i32} : tensor<64xi32> -> tensor<64x1xi32>
  %xs = tile.splat %x : !tile.ptr<f32> -> tensor<64x1x!tile.ptr<f32>>
  %row_starts = tile.addptr %xs, %column : tensor<64x1x!tile.ptr<f32>>, tensor<64x1xi32>
  %cols = tile.make_range {start = 0 : i32, end = 32 : i32} : tensor<32xi32>
  %row = tile.expand_dims %cols {axis = 0 : i32} : tensor<32xi32> -> tensor<1x32xi32>
  %starts = tile.broadcast %row_starts : tensor<64x1x!tile.ptr<f32>> -> tensor<64x32x!tile.ptr<f32>>
  %offsets = tile.broadcast %row : tensor<1x32xi32> -> tensor<64x32xi32>
  %p = tile.addptr %starts, %offsets : tensor<64x32x!tile.ptr<f32>>, tensor<64x32xi32>
  %v = tile.load %p : (tensor<64x32x!tile.ptr<f32>>) -> tensor<64x32xf32>
  tile.store %p, %v : (tensor<64x32x!tile.ptr<f32>>, tensor<64x32xf32>) -> ()
  return
}
}
