// RUN: tessera-opt %s -split-input-file -verify-diagnostics

// Tests that a range whose length is not a power of two is rejected.
func.func @range_not_power_of_two() {
  // expected-error @+1 {{range length must be a power of two, got 12}}
  %r = tile.make_range {start = 0 : i32, end = 12 : i32} : tensor<12xi32>
  return
}

// -----

// Tests that broadcasting a non-unit dimension is rejected.
func.func @bad_broadcast(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{cannot broadcast 4x8 to 4x16: dimension 1 is neither 1 nor equal}}
  %b = tile.broadcast %x : tensor<4x8xf32> -> tensor<4x16xf32>
  return
}

// -----

// Tests that a load's mask must have the pointers' shape.
func.func @mask_shape(%p: tensor<16x!tile.ptr<f32>>, %m: tensor<8xi1>) {
  // expected-error @+1 {{mask shape 8 differs from pointer shape 16}}
  %v = tile.load %p, %m : (tensor<16x!tile.ptr<f32>>, tensor<8xi1>) -> tensor<16xf32>
  return
}

// -----

// Tests that a stored value must match the pointee type.
func.func @store_type(%p: tensor<16x!tile.ptr<f32>>, %v: tensor<16xf16>) {
  // expected-error @+1 {{value element type 'f16' differs from the pointee type 'f32'}}
  tile.store %p, %v : (tensor<16x!tile.ptr<f32>>, tensor<16xf16>) -> ()
  return
}

// -----

// Tests that dot operands must agree on the inner dimension.
func.func @dot_inner(%a: tensor<16x32xf16>, %b: tensor<16x16xf16>, %c: tensor<16x16xf32>) {
  // expected-error @+1 {{inner dimensions differ: a is 16x32 and b is 16x16}}
  %d = tile.dot %a, %b, %c : tensor<16x32xf16>, tensor<16x16xf16> -> tensor<16x16xf32>
  return
}

// -----

// Tests that a dot's input precision is one of the two known values.
func.func @dot_precision(%a: tensor<16x16xf32>, %c: tensor<16x16xf32>) {
  // expected-error @+1 {{input_precision must be "ieee" or "tf32", got "fast"}}
  %d = tile.dot %a, %a, %c {input_precision = "fast"} : tensor<16x16xf32>, tensor<16x16xf32> -> tensor<16x16xf32>
  return
}

// -----

// Tests that a reduction result drops the reduced axis.
func.func @reduce_shape(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{result 'tensor<8xf32>' should be a block of shape 4}}
  %r = tile.reduce(%x) {axis = 1 : i32} : (tensor<4x8xf32>) -> tensor<8xf32> {
  ^bb0(%a: f32, %b: f32):
    %s = arith.addf %a, %b : f32
    tile.reduce.return %s : f32
  }
  return
}

// -----

// Tests that a reshape must keep the element count.
func.func @reshape_count(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{cannot reshape 4x8 to 16: element counts differ}}
  %r = tile.reshape %x : tensor<4x8xf32> -> tensor<16xf32>
  return
}

// -----

// Tests that trans needs a permutation.
func.func @trans_order(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{order must be a permutation of [0, 2)}}
  %t = tile.trans %x {order = array<i32: 0, 0>} : tensor<4x8xf32> -> tensor<4x4xf32>
  return
}

// -----

// Tests that addptr needs offsets of the pointers' shape.
func.func @addptr_shape(%p: tensor<16x!tile.ptr<f32>>, %o: tensor<8xi32>) {
  // expected-error @+1 {{offset shape 8 differs from pointer shape 16}}
  %q = tile.addptr %p, %o : tensor<16x!tile.ptr<f32>>, tensor<8xi32>
  return
}

// -----

// Tests that a hint states at least one fact.
func.func @hint_without_facts(%x: tensor<16xi32>) {
  // expected-error @+1 {{needs a divisibility or a contiguity}}
  %h = tile.hint %x : tensor<16xi32>
  return
}

// -----

// Tests that hint facts are powers of two.
func.func @hint_not_power_of_two(%x: tensor<16xi32>) {
  // expected-error @+1 {{divisibility entries must be positive powers of two, got 24}}
  %h = tile.hint %x {divisibility = array<i64: 24>} : tensor<16xi32>
  return
}

// -----

// Tests that hint facts are positive.
func.func @hint_zero(%x: !tile.ptr<f32>) {
  // expected-error @+1 {{contiguity entries must be positive powers of two, got 0}}
  %h = tile.hint %x {contiguity = array<i64: 0>} : !tile.ptr<f32>
  return
}

// -----

// Tests that a hint has one fact per dimension.
func.func @hint_rank(%x: tensor<16x32xi32>) {
  // expected-error @+1 {{contiguity has 1 entries, expected 2 (one per dimension, one for a scalar)}}
  %h = tile.hint %x {contiguity = array<i64: 32>} : tensor<16x32xi32>
  return
}

// -----

// Tests that a run of consecutive values fits in its dimension.
func.func @hint_contiguity_too_long(%x: tensor<16x32xi32>) {
  // expected-error @+1 {{contiguity 64 exceeds the size 32 of dimension 1}}
  %h = tile.hint %x {contiguity = array<i64: 1, 64>} : tensor<16x32xi32>
  return
}

// -----

// Tests that a scalar has no runs of consecutive values.
func.func @hint_scalar_contiguity(%x: i32) {
  // expected-error @+1 {{a scalar's contiguity must be 1, got 4}}
  %h = tile.hint %x {contiguity = array<i64: 4>} : i32
  return
}

// -----

// Tests that only integers and pointers take hints.
func.func @hint_float(%x: tensor<16xf32>) {
  // expected-error @+1 {{operand #0 must be}}
  %h = tile.hint %x {divisibility = array<i64: 16>} : tensor<16xf32>
  return
}

// -----

// Tests that a load through a tensor map has one coordinate per dimension of its block.
func.func @tma_coords(%p: tensor<128x64x!tile.ptr<bf16>>, %desc: !tile.tensormap, %r: i32) {
  // expected-error @+1 {{through a tensor map needs one coordinate per dimension: 1 for a block of rank 2}}
  %a = tile.load %p tma(%desc[%r]) : (tensor<128x64x!tile.ptr<bf16>>, !tile.tensormap, i32) -> tensor<128x64xbf16>
  return
}

// -----

// Tests that a load through a tensor map reads a block, not a scalar.
func.func @tma_scalar(%p: !tile.ptr<bf16>, %desc: !tile.tensormap) {
  // expected-error @+1 {{through a tensor map must load a block}}
  %a = tile.load %p tma(%desc[]) : (!tile.ptr<bf16>, !tile.tensormap) -> bf16
  return
}

// -----

// Tests that a load through a tensor map cannot read a block of i1.
func.func @tma_i1(%p: tensor<16x16x!tile.ptr<i1>>, %desc: !tile.tensormap, %r: i32, %c: i32) {
  // expected-error @+1 {{through a tensor map cannot load i1 blocks}}
  %a = tile.load %p tma(%desc[%r, %c]) : (tensor<16x16x!tile.ptr<i1>>, !tile.tensormap, i32, i32) -> tensor<16x16xi1>
  return
}

// -----

// Tests that a load without a tensor map takes no coordinates (written in generic form, as the
// custom form only prints coordinates inside tma(...)).
func.func @coords_without_tma(%p: tensor<16x!tile.ptr<f32>>, %r: i32) {
  // expected-error @+1 {{has coordinates but no tensor map}}
  %a = "tile.load"(%p, %r) <{operandSegmentSizes = array<i32: 1, 0, 0, 0, 1>}> : (tensor<16x!tile.ptr<f32>>, i32) -> tensor<16xf32>
  return
}

// -----

// Tests that an atomic add on floats must use 'fadd'.
func.func @atomic_add_on_floats(%p: !tile.ptr<f32>, %v: f32) {
  // expected-error @+1 {{'add' takes i32 or i64 elements, got 'f32'}}
  %o = tile.atomic_rmw "add" %p, %v : (!tile.ptr<f32>, f32) -> f32
  return
}

// -----

// Tests that an atomic's kind must be one it knows.
func.func @atomic_unknown_kind(%p: !tile.ptr<i32>, %v: i32) {
  // expected-error @+1 {{unknown kind 'nand'; expected add, fadd, max, min, umax, umin, and, or, xor or xchg}}
  %o = tile.atomic_rmw "nand" %p, %v : (!tile.ptr<i32>, i32) -> i32
  return
}

// -----

// Tests that an atomic's memory ordering must be one PTX has.
func.func @atomic_bad_sem(%p: !tile.ptr<i32>, %v: i32) {
  // expected-error @+1 {{sem must be relaxed, acquire, release or acq_rel, got 'seq_cst'}}
  %o = tile.atomic_rmw "add" %p, %v {sem = "seq_cst"} : (!tile.ptr<i32>, i32) -> i32
  return
}

// -----

// Tests that an atomic's mask must have the pointers' shape.
func.func @atomic_mask_shape(%p: tensor<16x!tile.ptr<i32>>, %v: tensor<16xi32>,
                             %m: tensor<8xi1>) {
  // expected-error @+1 {{mask shape 8 differs from pointer shape 16}}
  %o = tile.atomic_rmw "max" %p, %v, %m
      : (tensor<16x!tile.ptr<i32>>, tensor<16xi32>, tensor<8xi1>) -> tensor<16xi32>
  return
}

// -----

// Tests that a compare-and-swap takes 32- or 64-bit elements.
func.func @atomic_cas_narrow(%p: !tile.ptr<i16>, %c: i16, %v: i16) {
  // expected-error @+1 {{takes 32- or 64-bit elements, got 'i16'}}
  %o = tile.atomic_cas %p, %c, %v : (!tile.ptr<i16>, i16, i16) -> i16
  return
}

// -----

// Tests that the blocks tile.print prints have one shape.
func.func @print_shapes(%a: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{prints blocks of different shapes: 4 and 8}}
  tile.print %a, %b : tensor<4xf32>, tensor<8xf32> {prefix = "", hex = false, is_signed = array<i1: true, true>}
  return
}

// -----

// Tests that tile.print has a signedness per value.
func.func @print_signedness(%a: i32) {
  // expected-error @+1 {{has 0 is_signed entries for 1 values}}
  tile.print %a : i32 {prefix = "", hex = false, is_signed = array<i1>}
  return
}

// -----

// Tests that tile.breakpoint names every value and gives each a signedness.
func.func @breakpoint_names(%a: i32, %b: i32) {
  // expected-error @+1 {{has 1 names and 2 is_signed entries for 2 values}}
  tile.breakpoint %a, %b : i32, i32 {function = "k", names = ["a"], is_signed = array<i1: true, true>}
  return
}

// -----

// Tests that tile.breakpoint's names are distinct.
func.func @breakpoint_duplicate(%a: i32, %b: i32) {
  // expected-error @+1 {{names 'a' twice}}
  tile.breakpoint %a, %b : i32, i32 {function = "k", names = ["a", "a"], is_signed = array<i1: true, true>}
  return
}

// -----

// Tests that tile.breakpoint's names are not empty.
func.func @breakpoint_empty_name(%a: i32) {
  // expected-error @+1 {{has an empty name}}
  tile.breakpoint %a : i32 {function = "k", names = [""], is_signed = array<i1: true>}
  return
}
