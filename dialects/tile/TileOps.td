#ifndef TILE_OPS_TD
#define TILE_OPS_TD

include "dialects/tile/TileDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/BuiltinTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

// Scalars and blocks.
def Tile_Float : AnyTypeOf<[F16, BF16, F32, F64]>;
def Tile_Int : AnyTypeOf<[I1, I8, I16, I32, I64]>;
def Tile_Ptr : Type<CPred<"::mlir::isa<::mlir::tile::PointerType>($_self)">, "tile pointer">;
def Tile_Elem : AnyTypeOf<[Tile_Float, Tile_Int, Tile_Ptr]>;
def Tile_Tensor : RankedTensorOf<[Tile_Elem]>;
def Tile_IntTensor : RankedTensorOf<[Tile_Int]>;
def Tile_BoolTensor : RankedTensorOf<[I1]>;
def Tile_PtrTensor : RankedTensorOf<[Tile_Ptr]>;
def Tile_PtrLike : AnyTypeOf<[Tile_Ptr, Tile_PtrTensor]>;
def Tile_IntLike : AnyTypeOf<[Tile_Int, Tile_IntTensor]>;
def Tile_BoolLike : AnyTypeOf<[I1, Tile_BoolTensor]>;
def Tile_Value : AnyTypeOf<[Tile_Elem, Tile_Tensor]>;

class Tile_Op<string mnemonic, list<Trait> traits = []> : Op<Tile_Dialect, mnemonic, traits>;

def Tile_GridAxisAttr : ConfinedAttr<I32Attr, [IntMinValue<0>, IntMaxValue<2>]>;

def Tile_ProgramIdOp : Tile_Op<"program_id", [Pure]> {
  let summary = "Index of this program along a grid axis";
  let description = [{
    The coordinate of the running program instance along `axis` (0, 1 or 2) of the launch grid.

    ```mlir
    %pid = tile.program_id 0 : i32
    ```
  }];
  let arguments = (ins Tile_GridAxisAttr:$axis);
  let results = (outs I32:$result);
  let assemblyFormat = "$axis attr-dict `:` type($result)";
}

def Tile_NumProgramsOp : Tile_Op<"num_programs", [Pure]> {
  let summary = "Number of programs along a grid axis";
  let description = [{
    ```mlir
    %n = tile.num_programs 1 : i32
    ```
  }];
  let arguments = (ins Tile_GridAxisAttr:$axis);
  let results = (outs I32:$result);
  let assemblyFormat = "$axis attr-dict `:` type($result)";
}

def Tile_MakeRangeOp : Tile_Op<"make_range", [Pure]> {
  let summary = "The block [start, end) of consecutive i32 values";
  let description = [{
    Like `tl.arange`. `end - start` must be a power of two and equal the result's one dimension.

    ```mlir
    %r = tile.make_range {start = 0 : i32, end = 128 : i32} : tensor<128xi32>
    ```
  }];
  let arguments = (ins I32Attr:$start, I32Attr:$end);
  let results = (outs RankedTensorOf<[I32]>:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tile_SplatOp : Tile_Op<"splat", [Pure]> {
  let summary = "A block filled with one scalar";
  let description = [{
    ```mlir
    %b = tile.splat %x : f32 -> tensor<64x64xf32>
    ```

    A splat of a constant folds to a constant block (`arith.constant dense<...>`), so that
    arith's folders see through it: an index computed `% 1` or `* 1` of a folded unit size or
    stride disappears.
  }];
  let arguments = (ins Tile_Elem:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Tile_BroadcastOp : Tile_Op<"broadcast", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Widen dimensions of size 1";
  let description = [{
    The result has the operand's rank; each dimension is the operand's or, where the operand's is
    1, any size.

    ```mlir
    %b = tile.broadcast %x : tensor<1x64xf32> -> tensor<32x64xf32>
    ```
  }];
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_ExpandDimsOp : Tile_Op<"expand_dims", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Insert a dimension of size 1";
  let description = [{
    ```mlir
    %e = tile.expand_dims %x {axis = 1 : i32} : tensor<64xf32> -> tensor<64x1xf32>
    ```
  }];
  let arguments = (ins Tile_Tensor:$src, I32Attr:$axis);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_ReshapeOp : Tile_Op<"reshape", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Reinterpret a block with another shape in row-major order";
  let description = [{
    ```mlir
    %r = tile.reshape %x : tensor<4x16xf32> -> tensor<64xf32>
    ```
  }];
  let arguments = (ins Tile_Tensor:$src);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_TransOp : Tile_Op<"trans", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Permute the dimensions of a block";
  let description = [{
    Result dimension `i` is operand dimension `order[i]`.

    ```mlir
    %t = tile.trans %x {order = array<i32: 1, 0>} : tensor<16x32xf16> -> tensor<32x16xf16>
    ```
  }];
  let arguments = (ins Tile_Tensor:$src, DenseI32ArrayAttr:$order);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_AddPtrOp : Tile_Op<"addptr", [Pure, AllTypesMatch<["ptr", "result"]>]> {
  let summary = "Advance pointers by element offsets";
  let description = [{
    `ptr + offset` in elements of the pointee type, element-wise for blocks. The offset is an
    integer of the pointer's shape.

    ```mlir
    %q = tile.addptr %p, %offs : tensor<128x!tile.ptr<f32>>, tensor<128xi32>
    ```
  }];
  let arguments = (ins Tile_PtrLike:$ptr, Tile_IntLike:$offset);
  let results = (outs Tile_PtrLike:$result);
  let assemblyFormat = "$ptr `,` $offset attr-dict `:` type($ptr) `,` type($offset)";
  let hasVerifier = 1;
}

def Tile_LoadOp : Tile_Op<"load", [AttrSizedOperandSegments,
    MemoryEffects<[MemRead]>]> {
  let summary = "Load from global memory, under an optional mask";
  let description = [{
    Loads the element each pointer addresses. Where `mask` is false nothing is read and the
    result is `other` (undefined when `other` is absent).

    With `tma`, the load reads the box at `coords` (one i32 per dimension, outermost first) of the
    tensor a `!tile.tensormap` kernel parameter describes, and the pointers, mask and `other`
    describe the same read: the box's elements, the mask true exactly inside the tensor and
    `other` zero. A target with a Tensor Memory Accelerator may copy the box through the tensor
    map; any other lowering uses the pointers.

    ```mlir
    %v = tile.load %p, %m, %zero
        : (tensor<128x!tile.ptr<f32>>, tensor<128xi1>, tensor<128xf32>) -> tensor<128xf32>
    %s = tile.load %q : (!tile.ptr<i32>) -> i32
    %a = tile.load %ap, %am, %zeros tma(%desc[%row, %col])
        : (tensor<128x64x!tile.ptr<bf16>>, tensor<128x64xi1>, tensor<128x64xbf16>,
           !tile.tensormap, i32, i32) -> tensor<128x64xbf16>
    ```
  }];
  let arguments = (ins Tile_PtrLike:$ptr, Optional<Tile_BoolLike>:$mask,
                   Optional<Tile_Value>:$other, Optional<Tile_TensorMapType>:$tensorMap,
                   Variadic<I32>:$coords);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = [{
    $ptr (`,` $mask^)? (`,` $other^)? (`tma` `(` $tensorMap^ `[` $coords `]` `)`)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tile_StoreOp : Tile_Op<"store", [
    MemoryEffects<[MemWrite]>]> {
  let summary = "Store to global memory, under an optional mask";
  let description = [{
    ```mlir
    tile.store %p, %v, %m : (tensor<128x!tile.ptr<f32>>, tensor<128xf32>, tensor<128xi1>) -> ()
    ```
  }];
  let arguments = (ins Tile_PtrLike:$ptr, Tile_Value:$value, Optional<Tile_BoolLike>:$mask);
  let assemblyFormat = [{
    $ptr `,` $value (`,` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tile_AtomicRMWOp : Tile_Op<"atomic_rmw", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Atomic read-modify-write of global memory, under an optional mask";
  let description = [{
    For each pointer where `mask` is true, atomically replaces the element it addresses with
    `element kind value` and returns the element's old value (undefined where `mask` is
    false). Every element of the block is applied once, whatever threads a lowering spreads the
    block over. Kinds and the element types they take:

    - `add`, `max`, `min` (signed), `umax`, `umin` (unsigned), `and`, `or`, `xor`: i32, i64;
    - `fadd`: f16, f32, f64;
    - `xchg`: 32- and 64-bit integers and floats.

    `sem` orders the access with this thread's other accesses as PTX's `atom` does: `relaxed`,
    `acquire`, `release` or `acq_rel`; `scope` says which threads that ordering is with: `cta`
    (the program), `gpu` or `sys`.

    ```mlir
    %old = tile.atomic_rmw "fadd" %p, %v, %m {sem = "acq_rel", scope = "gpu"}
        : (tensor<128x!tile.ptr<f32>>, tensor<128xf32>, tensor<128xi1>) -> tensor<128xf32>
    %n = tile.atomic_rmw "add" %counter, %one : (!tile.ptr<i32>, i32) -> i32
    ```
  }];
  let arguments = (ins StrAttr:$kind, Tile_PtrLike:$ptr, Tile_Value:$value,
                   Optional<Tile_BoolLike>:$mask,
                   DefaultValuedStrAttr<StrAttr, "acq_rel">:$sem,
                   DefaultValuedStrAttr<StrAttr, "gpu">:$scope);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = [{
    $kind $ptr `,` $value (`,` $mask^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tile_AtomicCASOp : Tile_Op<"atomic_cas", [MemoryEffects<[MemRead, MemWrite]>,
    AllTypesMatch<["cmp", "value", "result"]>]> {
  let summary = "Atomic compare-and-swap of global memory";
  let description = [{
    For each pointer, atomically replaces the element it addresses with `value` if its bits
    equal those of `cmp`, and returns the element's old value. Elements are 32- or 64-bit
    integers or floats. `sem` and `scope` are as for `tile.atomic_rmw`.

    ```mlir
    %old = tile.atomic_cas %lock, %zero, %one : (!tile.ptr<i32>, i32, i32) -> i32
    ```
  }];
  let arguments = (ins Tile_PtrLike:$ptr, Tile_Value:$cmp, Tile_Value:$value,
                   DefaultValuedStrAttr<StrAttr, "acq_rel">:$sem,
                   DefaultValuedStrAttr<StrAttr, "gpu">:$scope);
  let results = (outs Tile_Value:$result);
  let assemblyFormat = [{
    $ptr `,` $cmp `,` $value attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tile_PrintOp : Tile_Op<"print", [MemoryEffects<[MemWrite]>]> {
  let summary = "Print values from a kernel (tl.device_print)";
  let description = [{
    Prints one line per element index of the block operands (blocks of one shape; scalars
    repeat on every line), with the program id, the index, `prefix` and the operands' elements
    separated by ", ", for example `pid (0, 0, 0) idx (3) x: 1.5, 7`. `is_signed` says per
    operand whether its integers are signed; with `hex` every element prints as its bits in
    hexadecimal (pointers always do). The host prints the lines in index order; on a GPU every
    thread prints the elements it holds, copies included, in no particular order.

    ```mlir
    tile.print %x, %n {prefix = "x, n: ", hex = false, is_signed = array<i1: true, true>}
        : tensor<128xf32>, i32
    ```
  }];
  let arguments = (ins StrAttr:$prefix, BoolAttr:$hex, DenseBoolArrayAttr:$is_signed,
                   Variadic<Tile_Value>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    // How value `index` prints (every lowering formats it so).
    PrintFormat getFormat(unsigned index);
  }];
}

def Tile_BreakpointOp : Tile_Op<"breakpoint", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Stop in a debugger with the kernel's live values (Python's breakpoint())";
  let description = [{
    Where a kernel calls `breakpoint()`: on the host, each program that reaches it hands the
    runtime's breakpoint handler a copy of `values` (blocks and scalars), named by `names`
    (the kernel's variables, in `function`), whose integers are signed where `is_signed` says
    so; the source position is the op's location. A handler can stop the launch. GPU kernels
    have no debugger: there the op is dropped.

    ```mlir
    tile.breakpoint %x, %n : tensor<128xf32>, i32 {function = "add_kernel",
        names = ["x", "n"], is_signed = array<i1: true, true>}
    ```
  }];
  let arguments = (ins StrAttr:$function, StrArrayAttr:$names, DenseBoolArrayAttr:$is_signed,
                   Variadic<Tile_Value>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let hasVerifier = 1;
}

def Tile_ReduceOp : Tile_Op<"reduce", [Pure, SingleBlockImplicitTerminator<"ReduceReturnOp">]> {
  let summary = "Reduce blocks along an axis with a combiner region";
  let description = [{
    Combines the elements of the operands along `axis` with the region, which takes the left
    and right element of every operand (2N scalars) and returns N. The results drop `axis`; a
    rank-1 operand reduces to scalars. The combiner must be associative and commutative.
    Several operands reduce together, as argmax does with (value, index).

    ```mlir
    %s = tile.reduce(%x) {axis = 0 : i32} : (tensor<128xf32>) -> f32 {
    ^bb0(%a: f32, %b: f32):
      %c = arith.addf %a, %b : f32
      tile.reduce.return %c : f32
    }
    ```
  }];
  let arguments = (ins Variadic<Tile_Tensor>:$srcs, I32Attr:$axis);
  let results = (outs Variadic<Tile_Value>:$results);
  let regions = (region SizedRegion<1>:$combiner);
  let assemblyFormat = [{
    `(` $srcs `)` attr-dict `:` functional-type($srcs, $results) $combiner
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Tile_ReduceReturnOp : Tile_Op<"reduce.return", [Pure, Terminator, HasParent<"ReduceOp">,
    ReturnLike]> {
  let summary = "Yield the combined elements of a tile.reduce";
  let description = [{
    ```mlir
    tile.reduce.return %c : f32
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$results);
  let assemblyFormat = "$results attr-dict `:` type($results)";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange{}); }]>];
}

def Tile_DotOp : Tile_Op<"dot", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "Block matrix product with accumulation";
  let description = [{
    `result = a @ b + acc` for `a` MxK, `b` KxN and `acc` MxN. With fp32 operands,
    `input_precision` chooses exact fp32 (`ieee`) or TF32 rounding of the operands (`tf32`).

    ```mlir
    %c = tile.dot %a, %b, %acc {input_precision = "ieee"}
        : tensor<32x16xf16>, tensor<16x64xf16> -> tensor<32x64xf32>
    ```
  }];
  let arguments = (ins Tile_Tensor:$a, Tile_Tensor:$b, Tile_Tensor:$acc,
                   DefaultValuedStrAttr<StrAttr, "ieee">:$input_precision);
  let results = (outs Tile_Tensor:$result);
  let assemblyFormat = "$a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `->` type($result)";
  let hasVerifier = 1;
}

def Tile_HintValue : AnyTypeOf<[Tile_Int, Tile_Ptr, RankedTensorOf<[Tile_Int, Tile_Ptr]>]>;

def Tile_HintOp : Tile_Op<"hint", [Pure, AllTypesMatch<["src", "result"]>]> {
  let summary = "Promise divisibility and contiguity facts about integers or pointers";
  let description = [{
    Returns its operand unchanged and gives the axis analysis facts that it cannot prove, as
    Triton's `tl.multiple_of` and `tl.max_contiguous` do. Each attribute has one entry per
    dimension (one for a scalar), each a positive power of two:

    - `divisibility[d]`: along dimension `d`, the first value of every run of consecutive
      values (every value, where there are no runs) is a multiple of it. For pointers it is
      the address's divisibility in bytes, like `tile.divisibility` on kernel arguments.
    - `contiguity[d]`: along dimension `d`, the values come in runs of this many consecutive
      integers (pointers to consecutive elements) starting at multiples of it; at most the
      dimension's size, so 1 for a scalar.

    Where the analysis proves a stronger fact it keeps it. The facts are promises: accesses
    are vectorised on their strength, so a false one gives wrong results. The op lowers to
    nothing.

    ```mlir
    %o = tile.hint %offs {divisibility = array<i64: 16>, contiguity = array<i64: 128>}
        : tensor<128xi32>
    %p = tile.hint %base {divisibility = array<i64: 16>} : !tile.ptr<f16>
    ```
  }];
  let arguments = (ins Tile_HintValue:$src, OptionalAttr<DenseI64ArrayAttr>:$divisibility,
                   OptionalAttr<DenseI64ArrayAttr>:$contiguity);
  let results = (outs Tile_HintValue:$result);
  let assemblyFormat = "$src attr-dict `:` type($result)";
  let hasVerifier = 1;
}

#endif
