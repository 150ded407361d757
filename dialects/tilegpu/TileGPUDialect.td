#ifndef TILEGPU_DIALECT_TD
#define TILEGPU_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def TileGPU_Dialect : Dialect {
  let name = "tilegpu";
  let cppNamespace = "::mlir::tilegpu";
  let summary = "Tile programs distributed over the threads of a CTA";
  let description = [{
    Every tensor carries a layout encoding that says which thread holds which element. The
    module records `tilegpu.num_warps` (threads per program = 32 * num_warps).
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let dependentDialects = ["::mlir::tile::TileDialect"];
}

class TileGPU_Attr<string name, string attrMnemonic> : AttrDef<TileGPU_Dialect, name> {
  let mnemonic = attrMnemonic;
}

def TileGPU_BlockedAttr : TileGPU_Attr<"Blocked", "blocked"> {
  let summary = "Elements tiled over registers, lanes and warps";
  let description = [{
    Per dimension, each thread holds `sizePerThread` consecutive elements, a warp's 32 lanes
    cover `threadsPerWarp` such groups and the CTA's warps `warpsPerCTA` warp tiles. `order`
    lists dimensions fastest-varying first (lanes and warps are numbered along it). A tensor
    larger than the CTA tile repeats it; a smaller one is replicated over the extra threads.

    ```mlir
    #blocked = #tilegpu.blocked<sizePerThread = [1, 4], threadsPerWarp = [4, 8],
                                warpsPerCTA = [4, 1], order = [1, 0]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"unsigned">:$sizePerThread,
                        ArrayRefParameter<"unsigned">:$threadsPerWarp,
                        ArrayRefParameter<"unsigned">:$warpsPerCTA,
                        ArrayRefParameter<"unsigned">:$order);
  let assemblyFormat = [{
    `<` `sizePerThread` `=` `[` $sizePerThread `]` `,` `threadsPerWarp` `=` `[` $threadsPerWarp `]`
    `,` `warpsPerCTA` `=` `[` $warpsPerCTA `]` `,` `order` `=` `[` $order `]` `>`
  }];
  let genVerifyDecl = 1;
}

def TileGPU_SliceAttr : TileGPU_Attr<"Slice", "slice"> {
  let summary = "A parent layout with one dimension removed";
  let description = [{
    The layout of a reduction's result: element `i` lives where the parent layout puts the
    elements whose coordinate along `dim` was reduced away, so `expand_dims` along `dim` gives
    back the parent layout without data movement.

    ```mlir
    #row = #tilegpu.slice<dim = 1, parent = #blocked>
    ```
  }];
  let parameters = (ins "unsigned":$dim, "::mlir::Attribute":$parent);
  let assemblyFormat = "`<` `dim` `=` $dim `,` `parent` `=` $parent `>`";
}

def TileGPU_MmaAttr : TileGPU_Attr<"Mma", "mma"> {
  let summary = "The accumulator layout of tensor-core instructions";
  let description = [{
    Version 2 is `mma.sync.m16n8` (sm_80+); version 3 is `wgmma.m64nN` (sm_90a). Warp `w` sits
    at (w mod warpsPerCTA[0], w / warpsPerCTA[0]) of the warp grid and owns 16 rows by `instrN`
    columns of each CTA tile (16 * warpsPerCTA[0]) x (instrN * warpsPerCTA[1]), which repeats over
    the block. Within a warp tile, lane l holds rows l/4 and l/4 + 8 of every 8-column group, at
    columns 2 * (l mod 4) and the next. For version 3 the four warps of a warpgroup are
    consecutive along M (warpsPerCTA[0] is a multiple of 4) and `instrN` is the wgmma's N; for
    version 2 `instrN` is 8.

    A `transposed` version-3 layout holds the transpose of that arrangement: element (r, c) of
    an R x C block sits where the untransposed layout of a C x R block puts (c, r). It is the
    accumulator of a wgmma that computes C^T = B^T A^T, which lets tf32 (whose wgmma operands in
    shared memory must be K-major) take a row-major B from registers.

    ```mlir
    #mma = #tilegpu.mma<version = 3, warpsPerCTA = [8, 1], instrN = 256>
    #mmaT = #tilegpu.mma<version = 3, warpsPerCTA = [8, 1], instrN = 128, transposed = true>
    ```
  }];
  let parameters = (ins "unsigned":$version, ArrayRefParameter<"unsigned">:$warpsPerCTA,
                        "unsigned":$instrN, DefaultValuedParameter<"bool", "false">:$transposed);
  let builders = [
    AttrBuilder<(ins "unsigned":$version, "::llvm::ArrayRef<unsigned>":$warpsPerCTA,
                     "unsigned":$instrN, CArg<"bool", "false">:$transposed), [{
      return $_get($_ctxt, version, warpsPerCTA, instrN, transposed);
    }]>
  ];
  let skipDefaultBuilders = 1;
  let assemblyFormat = [{
    `<` `version` `=` $version `,` `warpsPerCTA` `=` `[` $warpsPerCTA `]` `,` `instrN` `=` $instrN
    (`,` `transposed` `=` $transposed^)? `>`
  }];
  let genVerifyDecl = 1;
}

def TileGPU_DotOperandAttr : TileGPU_Attr<"DotOperand", "dot_op"> {
  let summary = "The register layout of a tensor-core operand";
  let description = [{
    Operand `opIdx` (0 for A, M x K; 1 for B, K x N) of the version-2 `parent` mma layout, as
    `mma.sync.m16n8k(8 * kWidth)` expects it: each 32-bit register holds `kWidth` consecutive
    elements along K (2 for 16-bit types, 1 for tf32). Warps along the other operand's dimension
    hold replicas.

    With an untransposed version-3 parent, a 16-bit operand 0 is what wgmma reads from registers
    for its A operand: per warp, the same arrangement as mma.sync's A over the warp's 16 rows,
    which is also where the accumulator holds those elements (so a product becomes the next
    dot's A without moving). With a transposed version-3 parent, operand 1 (B, K x N) is held as
    the transpose of what wgmma reads from registers for its A operand (B^T, N x K): the
    A-operand arrangement of the untransposed parent, on B^T.

    ```mlir
    #a = #tilegpu.dot_op<opIdx = 0, parent = #mma, kWidth = 2>
    #bT = #tilegpu.dot_op<opIdx = 1, parent = #mmaT, kWidth = 1>
    ```
  }];
  let parameters = (ins "unsigned":$opIdx, "::mlir::Attribute":$parent, "unsigned":$kWidth);
  let assemblyFormat = "`<` `opIdx` `=` $opIdx `,` `parent` `=` $parent `,` `kWidth` `=` $kWidth `>`";
  let genVerifyDecl = 1;
}

def TileGPU_SharedAttr : TileGPU_Attr<"Shared", "shared"> {
  let summary = "A block in shared memory, in the swizzled layout tensor cores read";
  let description = [{
    `order[0]` is the contiguous dimension. Along it the block is cut into runs of
    `swizzleBytes` bytes; each run-column is stored as consecutive rows of `swizzleBytes` bytes
    (one row per coordinate of the other dimension), and inside every 1024-byte atom the 16-byte
    chunks of a row are permuted by XOR with the row's phase: byte address bits [4, 4 + s) are
    XORed with bits [7, 7 + s), s = log2(swizzleBytes / 16). This is the 128/64/32-byte swizzle
    wgmma descriptors and TMA use; it also keeps `ldmatrix` and 16-byte stores free of bank
    conflicts. A leading dimension beyond the last two indexes buffers of a multi-buffered ring.

    ```mlir
    #shared = #tilegpu.shared<swizzleBytes = 128, order = [1, 0]>
    ```
  }];
  let parameters = (ins "unsigned":$swizzleBytes, ArrayRefParameter<"unsigned">:$order);
  let assemblyFormat = "`<` `swizzleBytes` `=` $swizzleBytes `,` `order` `=` `[` $order `]` `>`";
  let genVerifyDecl = 1;
}

def TileGPU_MemDescType : TypeDef<TileGPU_Dialect, "MemDesc"> {
  let mnemonic = "memdesc";
  let summary = "A block (or a ring of blocks) in shared memory";
  let description = [{
    ```mlir
    !tilegpu.memdesc<3x128x64xbf16, #shared>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape, "::mlir::Type":$elementType,
                        "::mlir::Attribute":$encoding);
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    // Bytes one buffer (the last two dimensions) takes.
    int64_t getBufferBytes() const;
  }];
}

def TileGPU_TensorMap : Type<CPred<"::mlir::isa<::mlir::tile::TensorMapType>($_self)">,
                             "tensor map">;

def TileGPU_AnyMemDesc : Type<CPred<"::mlir::isa<::mlir::tilegpu::MemDescType>($_self)">,
                              "shared-memory block">;

def TileGPU_MBarriersType : TypeDef<TileGPU_Dialect, "MBarriers"> {
  let mnemonic = "mbarriers";
  let summary = "A ring of `count` mbarriers in shared memory";
  let description = [{
    Each mbarrier (8 bytes) tracks the phases of one ring buffer that TMA copies fill: a phase
    completes when every expected arrival has happened and every byte announced with it has
    landed.

    ```mlir
    !tilegpu.mbarriers<4>
    ```
  }];
  let parameters = (ins "int64_t":$count);
  let assemblyFormat = "`<` $count `>`";
  let genVerifyDecl = 1;
}

def TileGPU_ConvertLayoutOp : Op<TileGPU_Dialect, "convert_layout",
    [Pure, SameOperandsAndResultShape, SameOperandsAndResultElementType]> {
  let summary = "Move a block's elements to the threads another layout assigns";
  let description = [{
    ```mlir
    %y = tilegpu.convert_layout %x : tensor<64x64xf32, #a> -> tensor<64x64xf32, #b>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$src);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasFolder = 1;
}

def TileGPU_LocalAllocOp : Op<TileGPU_Dialect, "local_alloc", [MemoryEffects<[MemAlloc, MemWrite]>]> {
  let summary = "Shared memory for a block, optionally initialised from registers";
  let description = [{
    Without `src` the buffer (often a ring of `num_stages` buffers) is left uninitialised for
    async copies to fill. With `src` every thread stores its elements; the values are visible to
    every thread (and to the tensor cores) after the op.

    ```mlir
    %ring = tilegpu.local_alloc : () -> !tilegpu.memdesc<3x128x64xbf16, #shared>
    %a = tilegpu.local_alloc %x : (tensor<128x64xbf16, #blocked>) -> !tilegpu.memdesc<128x64xbf16, #shared>
    ```
  }];
  let arguments = (ins Optional<AnyRankedTensor>:$src);
  let results = (outs TileGPU_AnyMemDesc:$result);
  let assemblyFormat = "($src^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def TileGPU_MemDescIndexOp : Op<TileGPU_Dialect, "memdesc_index", [Pure]> {
  let summary = "One buffer of a ring";
  let description = [{
    ```mlir
    %slot = tilegpu.memdesc_index %ring[%i] : !tilegpu.memdesc<3x128x64xbf16, #shared> -> !tilegpu.memdesc<128x64xbf16, #shared>
    ```
  }];
  let arguments = (ins TileGPU_AnyMemDesc:$src, I32:$index);
  let results = (outs TileGPU_AnyMemDesc:$result);
  let assemblyFormat = "$src `[` $index `]` attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def TileGPU_MemDescTransOp : Op<TileGPU_Dialect, "memdesc_trans", [Pure]> {
  let summary = "The transpose of a 2-D shared-memory block, as a view of the same bytes";
  let description = [{
    The result has the source's dimensions swapped and its shared layout's order swapped, so that
    element (i, j) of the result is element (j, i) of the source at the same address: nothing
    moves. A wgmma reads a block loaded row by row as the K-major transpose it needs this way
    (`q @ trans(k)`).

    ```mlir
    %kt = tilegpu.memdesc_trans %k : !tilegpu.memdesc<64x128xbf16, #shared> -> !tilegpu.memdesc<128x64xbf16, #shared_t>
    ```
  }];
  let arguments = (ins TileGPU_AnyMemDesc:$src);
  let results = (outs TileGPU_AnyMemDesc:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def TileGPU_LocalLoadOp : Op<TileGPU_Dialect, "local_load", [MemoryEffects<[MemRead]>]> {
  let summary = "Read a shared-memory block into registers";
  let description = [{
    ```mlir
    %a = tilegpu.local_load %slot : !tilegpu.memdesc<128x64xbf16, #shared> -> tensor<128x64xbf16, #dot_a>
    ```
  }];
  let arguments = (ins TileGPU_AnyMemDesc:$src);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$src attr-dict `:` type($src) `->` type($result)";
  let hasVerifier = 1;
}

def TileGPU_AsyncCopyOp : Op<TileGPU_Dialect, "async_copy",
    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Copy a block from global to shared memory without passing through registers";
  let description = [{
    Each thread issues `cp.async` for the elements the pointers' layout gives it, in runs of up
    to 16 bytes; masked-off elements are written as zeros. The copy belongs to the group the next
    `tilegpu.async_commit` closes, and its data may be read after a `tilegpu.async_wait` lets
    that group complete.

    ```mlir
    tilegpu.async_copy %ptrs, %slot, %mask : tensor<128x64x!tile.ptr<bf16>, #blocked>, !tilegpu.memdesc<128x64xbf16, #shared>, tensor<128x64xi1, #blocked>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$ptr, TileGPU_AnyMemDesc:$dst,
                       Optional<AnyRankedTensor>:$mask);
  let assemblyFormat = "$ptr `,` $dst (`,` $mask^)? attr-dict `:` type($ptr) `,` type($dst) (`,` type($mask)^)?";
  let hasVerifier = 1;
}

def TileGPU_AsyncCommitOp : Op<TileGPU_Dialect, "async_commit", [MemoryEffects<[MemWrite]>]> {
  let summary = "Close the group of async copies issued since the last commit";
  let description = [{
    ```mlir
    tilegpu.async_commit
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def TileGPU_AsyncWaitOp : Op<TileGPU_Dialect, "async_wait", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Wait until at most `pending` copy groups are in flight, then sync the CTA";
  let description = [{
    After the op, the data of every older group is visible to all threads of the program and to
    the tensor cores: the op includes the barrier. It puts no async-proxy fence before wgmma's
    reads, as Triton's Hopper kernels do not: the fence's MEMBAR.ALL.CTA would cost every
    pipelined iteration.

    ```mlir
    tilegpu.async_wait {pending = 1 : i32}
    ```
  }];
  let arguments = (ins I32Attr:$pending);
  let assemblyFormat = "attr-dict";
}

def TileGPU_BarrierOp : Op<TileGPU_Dialect, "barrier", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Synchronise the threads of the program (bar.sync)";
  let description = [{
    Every thread's shared-memory accesses before the barrier happen before every thread's after
    it. The pipeliner puts one between the wgmma wait that frees a ring buffer and the copies
    that refill it, since the other warpgroups may still be reading the buffer.

    ```mlir
    tilegpu.barrier
    ```
  }];
  let assemblyFormat = "attr-dict";
}

def TileGPU_InitBarriersOp : Op<TileGPU_Dialect, "init_barriers",
    [MemoryEffects<[MemAlloc, MemWrite]>]> {
  let summary = "Allocate and initialise a ring of mbarriers";
  let description = [{
    Allocates the ring in shared memory; one thread initialises every mbarrier to expect
    `arrivals` arrivals per phase, then the program synchronises, so that all threads see the
    mbarriers ready. Each starts in phase 0.

    ```mlir
    %bars = tilegpu.init_barriers {arrivals = 2 : i32} : !tilegpu.mbarriers<4>
    ```
  }];
  let arguments = (ins ConfinedAttr<I32Attr, [IntPositive]>:$arrivals);
  let results = (outs TileGPU_MBarriersType:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
}

def TileGPU_WaitBarrierOp : Op<TileGPU_Dialect, "wait_barrier", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Wait until an mbarrier completes the phase of a given parity";
  let description = [{
    Every thread spins on mbarrier `index` of the ring until its phase of parity `phase` (0 or
    1) has completed. The data that TMA copies delivered to that phase are then visible to the
    thread and to the tensor cores.

    ```mlir
    tilegpu.wait_barrier %bars[%slot], %phase : !tilegpu.mbarriers<4>
    ```
  }];
  let arguments = (ins TileGPU_MBarriersType:$barriers, I32:$index, I32:$phase);
  let assemblyFormat = "$barriers `[` $index `]` `,` $phase attr-dict `:` type($barriers)";
}

def TileGPU_AsyncTMALoadOp : Op<TileGPU_Dialect, "async_tma_load",
    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Copy a block from global to shared memory with the Tensor Memory Accelerator";
  let description = [{
    Where `pred` holds, one thread announces the block's bytes to mbarrier `index` of the ring
    (one arrival) and has the TMA copy the box at `coords` (outermost first) of the tensor map
    into `dst`, as boxes of `swizzleBytes` bytes along the contiguous dimension, one per column
    run of `dst`'s layout; elements outside the tensor are zeros. The data may be read once a
    `tilegpu.wait_barrier` has seen the mbarrier's phase complete.

    ```mlir
    tilegpu.async_tma_load %desc[%row, %col], %slot, %bars[%i], %pred : !tile.tensormap, !tilegpu.memdesc<128x64xbf16, #shared>, !tilegpu.mbarriers<4>
    ```
  }];
  let arguments = (ins TileGPU_TensorMap:$tensorMap, Variadic<I32>:$coords,
                       TileGPU_AnyMemDesc:$dst, TileGPU_MBarriersType:$barriers, I32:$index,
                       I1:$pred);
  let assemblyFormat = [{
    $tensorMap `[` $coords `]` `,` $dst `,` $barriers `[` $index `]` `,` $pred attr-dict `:`
    type($tensorMap) `,` type($dst) `,` type($barriers)
  }];
  let hasVerifier = 1;
}

def TileGPU_WarpGroupDotOp : Op<TileGPU_Dialect, "warpgroup_dot", [MemoryEffects<[MemRead]>]> {
  let summary = "acc + a @ b on the tensor cores with wgmma, asynchronously";
  let description = [{
    Both operands are in shared memory and the accumulator and result have a version-3 mma
    layout; or `a` is a register block in the dot_op layout (opIdx 0) of the accumulator's layout
    (the wgmma's register operand: an attention kernel's probabilities, never stored); or the
    accumulator's layout is transposed and `b` is a register block in its dot_op layout, and the
    wgmma computes the transposed product with b^T as its register operand.
    The op issues the wgmma instructions and commits them as one group: the result may be read
    only through a `tilegpu.warpgroup_dot_wait` that lets the group complete, and the operands'
    buffers must not be overwritten before then. `input_precision` is "tf32" for fp32 operands.

    ```mlir
    %d = tilegpu.warpgroup_dot %a, %b, %acc {input_precision = "ieee"} : !tilegpu.memdesc<128x64xbf16, #shared>, !tilegpu.memdesc<64x256xbf16, #shared1>, tensor<128x256xf32, #mma> -> tensor<128x256xf32, #mma>
    %o = tilegpu.warpgroup_dot %p, %v, %acc : tensor<128x64xbf16, #dot_a>, !tilegpu.memdesc<64x128xbf16, #shared1>, tensor<128x128xf32, #mma> -> tensor<128x128xf32, #mma>
    ```
  }];
  let arguments = (ins AnyType:$a, AnyType:$b, AnyRankedTensor:$acc,
                       DefaultValuedStrAttr<StrAttr, "ieee">:$input_precision);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$a `,` $b `,` $acc attr-dict `:` type($a) `,` type($b) `,` type($acc) `->` type($result)";
  let hasVerifier = 1;
}

def TileGPU_WarpGroupDotWaitOp : Op<TileGPU_Dialect, "warpgroup_dot_wait",
    [MemoryEffects<[MemRead, MemWrite]>, AllTypesMatch<["acc", "result"]>]> {
  let summary = "Wait until at most `pending` wgmma groups are in flight";
  let description = [{
    Returns `acc` (a warpgroup_dot result), readable once its group is among the completed ones.
    `keep` lists register operands of wgmmas that may still be in flight before the wait: they
    stay allocated (their registers unchanged) until it.

    ```mlir
    %r = tilegpu.warpgroup_dot_wait %d {pending = 0 : i32} : tensor<128x256xf32, #mma>
    %s = tilegpu.warpgroup_dot_wait %e {pending = 1 : i32} : tensor<128x128xf32, #mmaT> keep(%b : tensor<32x128xf32, #bT>)
    ```
  }];
  let arguments = (ins AnyRankedTensor:$acc, I32Attr:$pending, Variadic<AnyType>:$keep);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $acc attr-dict `:` type($acc) (`keep` `(` $keep^ `:` type($keep) `)`)?
  }];
}

#endif
