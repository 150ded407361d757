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

#endif
