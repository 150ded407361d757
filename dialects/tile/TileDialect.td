#ifndef TILE_DIALECT_TD
#define TILE_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Tile_Dialect : Dialect {
  let name = "tile";
  let cppNamespace = "::mlir::tile";
  let summary = "Target-independent tile programs: blocks of values without layouts";
  let description = [{
    A kernel is a `func.func` marked `tile.kernel` that one program instance of a grid runs.
    Values are scalars or statically shaped tensors (blocks) with no notion of threads; the
    `tilegpu` dialect later distributes them over threads. Arithmetic and math use `arith` and
    `math` element-wise; control flow uses `scf`.
  }];
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1; // folded splats become arith.constant
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect", "::mlir::func::FuncDialect"];
}

class Tile_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Tile_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Tile_PointerType : Tile_Type<"Pointer", "ptr"> {
  let summary = "Pointer into global memory";
  let description = [{
    A pointer to elements of `pointeeType` in global memory.

    Example: `!tile.ptr<f32>`, and a block of them `tensor<128x!tile.ptr<bf16>>`.
  }];
  let parameters = (ins "::mlir::Type":$pointeeType);
  let assemblyFormat = "`<` $pointeeType `>`";
  let builders = [TypeBuilderWithInferredContext<(ins "::mlir::Type":$pointeeType), [{
    return $_get(pointeeType.getContext(), pointeeType);
  }]>];
}

def Tile_TensorMapType : Tile_Type<"TensorMap", "tensormap"> {
  let summary = "A TMA tensor map, passed by value as a kernel parameter";
  let description = [{
    The 128-byte `CUtensorMap` the host encodes for a tensor descriptor (its base address,
    extents, strides, box and swizzle). Only kernel parameters have this type; a load may name one
    as a tensor map that describes the block it reads (see `tile.load`), and a target with a Tensor
    Memory Accelerator may then read the block through it.

    Example: `!tile.tensormap`.
  }];
}

#endif
