#include "compiler/HostJIT.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"

#include <mutex>

namespace tessera::compiler {
namespace {

class JITProgram final : public HostProgram {
public:
  JITProgram(std::unique_ptr<mlir::ExecutionEngine> engine, void (*entry)(void **))
      : engine(std::move(engine)), entry(entry) {}
  void run(void **arguments) const override { entry(arguments); }

private:
  std::unique_ptr<mlir::ExecutionEngine> engine;
  void (*entry)(void **);
};

} // namespace

void addHostLoweringPasses(mlir::PassManager &passes) {
  mlir::math::MathExtendToSupportedTypesOptions mathTypes;
  passes.addPass(mlir::math::createMathExtendToSupportedTypes(mathTypes));
  mlir::arith::ArithEmulateUnsupportedFloatsOptions narrowFloats;
  narrowFloats.sourceTypeStrs = {"bf16", "f16"};
  passes.addPass(mlir::arith::createArithEmulateUnsupportedFloats(narrowFloats));
  // bf16 conversions as integer code: the JIT then needs no compiler-rt helper for them.
  mlir::arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  passes.addPass(mlir::arith::createArithExpandOpsPass(expand));
  passes.addPass(mlir::createConvertMathToLLVMPass());
  passes.addPass(mlir::createConvertMathToLibmPass()); // erf, tanh, ...: libm calls
  passes.addPass(mlir::createSCFToControlFlowPass());
  passes.addPass(mlir::memref::createExpandStridedMetadataPass());
  passes.addPass(mlir::createLowerAffinePass());
  passes.addPass(mlir::createFinalizeMemRefToLLVMConversionPass());
  passes.addPass(mlir::createArithToLLVMConversionPass());
  passes.addPass(mlir::createConvertFuncToLLVMPass());
  passes.addPass(mlir::createConvertControlFlowToLLVMPass());
  passes.addPass(mlir::createReconcileUnrealizedCastsPass());
  passes.addPass(mlir::createCanonicalizerPass());
}

std::unique_ptr<HostProgram> createHostProgram(mlir::ModuleOp module, const std::string &kernelName,
                                               const std::map<std::string, void *> &runtimeSymbols,
                                               std::string *optimizedIR, std::string *error) {
  static std::once_flag nativeTarget;
  std::call_once(nativeTarget, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  mlir::registerBuiltinDialectTranslation(*module->getContext());
  mlir::registerLLVMDialectTranslation(*module->getContext());

  auto optimize = mlir::makeOptimizingTransformer(/*optLevel=*/2, /*sizeLevel=*/0,
                                                  /*targetMachine=*/nullptr);
  auto transformer = [&](llvm::Module *llvmModule) -> llvm::Error {
    if (llvm::Error failed = optimize(llvmModule))
      return failed;
    llvm::raw_string_ostream os(*optimizedIR);
    llvmModule->print(os, nullptr);
    return llvm::Error::success();
  };
  mlir::ExecutionEngineOptions options;
  options.transformer = transformer;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Default;
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  auto engine = mlir::ExecutionEngine::create(module, options);
  if (!engine) {
    *error = "the host JIT failed: " + llvm::toString(engine.takeError());
    return nullptr;
  }
  (*engine)->registerSymbols([&](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    for (const auto &[name, address] : runtimeSymbols)
      symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  auto entry = (*engine)->lookupPacked(kernelName);
  if (!entry) {
    *error =
        "the host JIT could not load '" + kernelName + "': " + llvm::toString(entry.takeError());
    return nullptr;
  }
  return std::make_unique<JITProgram>(std::move(*engine), *entry);
}

} // namespace tessera::compiler
