#include "compiler/PTXEmitter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/AsmParser/Parser.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/IPO/Internalize.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#ifndef TESSERA_LIBDEVICE_PATH
#define TESSERA_LIBDEVICE_PATH "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc"
#endif
#ifndef TESSERA_CUDA_ROOT
#define TESSERA_CUDA_ROOT "/usr/local/cuda"
#endif

namespace tessera::compiler {

const char *const kSupportedTargets = "sm_80, sm_86, sm_89, sm_90, sm_90a";

bool isSupportedTarget(const std::string &target) {
  return target == "sm_80" || target == "sm_86" || target == "sm_89" || target == "sm_90" ||
         target == "sm_90a";
}

void registerPTXEmitterTranslations(mlir::DialectRegistry &registry) {
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerNVVMDialectTranslation(registry);
}

namespace {

constexpr const char *kTriple = "nvptx64-nvidia-cuda";

std::optional<std::string> getEnv(const char *name) {
  const char *value = std::getenv(name);
  if (!value)
    return std::nullopt;
  return std::string(value);
}

bool isFile(const std::string &path) {
  return !path.empty() && llvm::sys::fs::is_regular_file(path);
}

void initializeNVPTX() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

// Collects the errors LLVM reports through its context (linker, verifier, backend) instead of
// letting them go to stderr; warnings and remarks are dropped.
struct LLVMDiagnostics {
  std::string errors;

  static void handle(const llvm::DiagnosticInfo *info, void *self) {
    if (info->getSeverity() != llvm::DS_Error)
      return;
    auto *diagnostics = static_cast<LLVMDiagnostics *>(self);
    llvm::raw_string_ostream os(diagnostics->errors);
    llvm::DiagnosticPrinterRawOStream printer(os);
    info->print(printer);
    os << "\n";
  }

  void install(llvm::LLVMContext &context) {
    context.setDiagnosticHandlerCallBack(&LLVMDiagnostics::handle, this);
  }
};

std::string withDetails(const std::string &message, const std::string &details) {
  if (details.empty())
    return message;
  std::string result = message + ":\n" + details;
  while (!result.empty() && result.back() == '\n')
    result.pop_back();
  return result;
}

std::unique_ptr<llvm::TargetMachine> createTargetMachine(const std::string &target,
                                                         std::string *error) {
  initializeNVPTX();
  if (!isSupportedTarget(target)) {
    *error = "unsupported target '" + target + "' (expected one of " + kSupportedTargets + ")";
    return nullptr;
  }
  llvm::Triple triple(kTriple);
  std::string lookupError;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!llvmTarget) {
    *error = "NVPTX target not available: " + lookupError;
    return nullptr;
  }
  llvm::TargetOptions options;
  // Contract a*b+c into fma, as nvcc and Triton do by default.
  options.AllowFPOpFusion = llvm::FPOpFusion::Fast;
  std::string features = "+ptx" + std::to_string(kPTXVersion);
  std::unique_ptr<llvm::TargetMachine> machine(llvmTarget->createTargetMachine(
      triple, target, features, options, std::nullopt, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    *error = "could not create the NVPTX target machine for " + target;
  return machine;
}

// libdevice, read once per path and kept for the process's life (modules are loaded lazily from
// the buffer, so it must outlive them).
const llvm::MemoryBuffer *loadLibdevice(const std::string &path, std::string *error) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<llvm::MemoryBuffer>> buffers;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = buffers.find(path);
  if (it != buffers.end())
    return it->second.get();
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    *error = "cannot read libdevice '" + path + "': " + buffer.getError().message();
    return nullptr;
  }
  const llvm::MemoryBuffer *result = buffer->get();
  buffers.emplace(path, std::move(*buffer));
  return result;
}

bool isKernel(const llvm::Function &function) {
  return !function.isDeclaration() &&
         function.getCallingConv() == llvm::CallingConv::PTX_Kernel;
}

bool callsLibdevice(const llvm::Module &module) {
  for (const llvm::Function &function : module)
    if (function.isDeclaration() && function.getName().starts_with("__nv_") &&
        !function.use_empty())
      return true;
  return false;
}

// Links the libdevice functions `module` uses, then makes everything but the kernels (and
// declarations such as extern shared memory) internal so that O3 inlines and drops them.
bool linkLibdevice(llvm::Module &module, LLVMDiagnostics &diagnostics, std::string *error) {
  if (callsLibdevice(module)) {
    std::string path = libdevicePath();
    if (path.empty()) {
      *error = "the kernel calls libdevice functions but libdevice.10.bc was not found (set "
               "TESSERA_LIBDEVICE or TESSERA_CUDA_ROOT)";
      return false;
    }
    const llvm::MemoryBuffer *buffer = loadLibdevice(path, error);
    if (!buffer)
      return false;
    auto libdevice = llvm::getLazyBitcodeModule(buffer->getMemBufferRef(), module.getContext());
    if (!libdevice) {
      *error = "cannot parse libdevice '" + path + "': " + llvm::toString(libdevice.takeError());
      return false;
    }
    (*libdevice)->setTargetTriple(module.getTargetTriple());
    (*libdevice)->setDataLayout(module.getDataLayout());
    if (llvm::Linker::linkModules(module, std::move(*libdevice),
                                  llvm::Linker::Flags::LinkOnlyNeeded)) {
      *error = withDetails("linking libdevice failed", diagnostics.errors);
      return false;
    }
  }
  llvm::internalizeModule(module,
                          [](const llvm::GlobalValue &value) {
                            auto *function = llvm::dyn_cast<llvm::Function>(&value);
                            return function && isKernel(*function);
                          });
  // libdevice's __nvvm_reflect("__CUDA_FTZ") reads this; 0 keeps denormals (IEEE behaviour).
  if (!module.getModuleFlag("nvvm-reflect-ftz"))
    module.addModuleFlag(llvm::Module::Override, "nvvm-reflect-ftz", uint32_t(0));
  return true;
}

void optimize(llvm::Module &module, llvm::TargetMachine &machine) {
  llvm::LoopAnalysisManager loopAM;
  llvm::FunctionAnalysisManager functionAM;
  llvm::CGSCCAnalysisManager cgsccAM;
  llvm::ModuleAnalysisManager moduleAM;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopUnrolling = true;
  tuning.LoopInterleaving = true;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  // With a target machine, the builder registers NVPTX's callbacks (NVVMReflect, ...) and its
  // TargetIRAnalysis.
  llvm::PassBuilder builder(&machine, tuning);
  builder.registerModuleAnalyses(moduleAM);
  builder.registerCGSCCAnalyses(cgsccAM);
  builder.registerFunctionAnalyses(functionAM);
  builder.registerLoopAnalyses(loopAM);
  builder.crossRegisterProxies(loopAM, functionAM, cgsccAM, moduleAM);
  llvm::ModulePassManager passes =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  passes.run(module, moduleAM);
}

bool verify(llvm::Module &module, const char *when, std::string *error) {
  std::string message;
  llvm::raw_string_ostream os(message);
  if (llvm::verifyModule(module, &os)) {
    *error = withDetails(std::string("invalid LLVM IR ") + when, message);
    return false;
  }
  return true;
}

std::string printModule(const llvm::Module &module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, nullptr);
  return text;
}

bool codegen(llvm::Module &module, llvm::TargetMachine &machine, LLVMDiagnostics &diagnostics,
             std::string *ptx, std::string *error) {
  llvm::SmallString<0> buffer;
  {
    llvm::raw_svector_ostream os(buffer);
    llvm::legacy::PassManager passes;
    if (machine.addPassesToEmitFile(passes, os, nullptr, llvm::CodeGenFileType::AssemblyFile)) {
      *error = "the NVPTX target cannot emit assembly";
      return false;
    }
    passes.run(module);
  }
  if (!diagnostics.errors.empty()) {
    *error = withDetails("PTX generation failed", diagnostics.errors);
    return false;
  }
  *ptx = std::string(buffer.str());
  return true;
}

void prepareModule(llvm::Module &module, llvm::TargetMachine &machine) {
  module.setTargetTriple(machine.getTargetTriple());
  module.setDataLayout(machine.createDataLayout());
}

bool hasKernel(const llvm::Module &module) {
  for (const llvm::Function &function : module)
    if (isKernel(function))
      return true;
  return false;
}

} // namespace

bool emitPTX(mlir::Operation *module, const std::string &target, PTXOutput *out,
             std::string *error) {
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(target, error);
  if (!machine)
    return false;

  mlir::DialectRegistry registry;
  registerPTXEmitterTranslations(registry);
  module->getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext context;
  LLVMDiagnostics diagnostics;
  diagnostics.install(context);
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "tessera");
  if (!llvmModule) {
    *error = "translation of the LLVM dialect to LLVM IR failed";
    return false;
  }
  if (!hasKernel(*llvmModule)) {
    *error = "the module has no kernel (an llvm.func with the nvvm.kernel attribute)";
    return false;
  }
  prepareModule(*llvmModule, *machine);
  if (!verify(*llvmModule, "after translation", error) ||
      !linkLibdevice(*llvmModule, diagnostics, error) ||
      !verify(*llvmModule, "after linking libdevice", error))
    return false;
  optimize(*llvmModule, *machine);
  out->llir = printModule(*llvmModule);
  return codegen(*llvmModule, *machine, diagnostics, &out->ptx, error);
}

bool emitPTXFromLLVMIR(const std::string &llir, const std::string &target, PTXOutput *out,
                       std::string *error) {
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(target, error);
  if (!machine)
    return false;
  llvm::LLVMContext context;
  LLVMDiagnostics diagnostics;
  diagnostics.install(context);
  llvm::SMDiagnostic parseError;
  std::unique_ptr<llvm::Module> module = llvm::parseAssemblyString(llir, parseError, context);
  if (!module) {
    std::string message;
    llvm::raw_string_ostream os(message);
    parseError.print("llir", os, /*ShowColors=*/false);
    *error = withDetails("cannot parse the LLVM IR", message);
    return false;
  }
  prepareModule(*module, *machine);
  if (!verify(*module, "in the replaced llir stage", error))
    return false;
  if (callsLibdevice(*module)) {
    if (!linkLibdevice(*module, diagnostics, error) ||
        !verify(*module, "after linking libdevice", error))
      return false;
    optimize(*module, *machine);
  }
  out->llir = printModule(*module);
  return codegen(*module, *machine, diagnostics, &out->ptx, error);
}

std::string libdevicePath() {
  if (auto path = getEnv("TESSERA_LIBDEVICE"))
    return isFile(*path) ? *path : std::string();
  if (isFile(TESSERA_LIBDEVICE_PATH))
    return TESSERA_LIBDEVICE_PATH;
  for (const char *root : {"TESSERA_CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"}) {
    if (auto dir = getEnv(root)) {
      std::string path = *dir + "/nvvm/libdevice/libdevice.10.bc";
      if (isFile(path))
        return path;
    }
  }
  std::string path = "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc";
  return isFile(path) ? path : std::string();
}

std::string findPtxas() {
  auto executable = [](const std::string &path) {
    return isFile(path) && llvm::sys::fs::can_execute(path);
  };
  if (auto path = getEnv("TESSERA_PTXAS"))
    // Set but empty disables ptxas (no cubin).
    return executable(*path) ? *path : std::string();
  if (auto root = getEnv("TESSERA_CUDA_ROOT"))
    if (executable(*root + "/bin/ptxas"))
      return *root + "/bin/ptxas";
  if (executable(std::string(TESSERA_CUDA_ROOT) + "/bin/ptxas"))
    return std::string(TESSERA_CUDA_ROOT) + "/bin/ptxas";
  if (auto path = llvm::sys::findProgramByName("ptxas"))
    return *path;
  return std::string();
}

bool assembleCubin(const std::string &ptx, const std::string &target, std::string *cubin,
                   bool *found, std::string *error) {
  cubin->clear();
  std::string ptxas = findPtxas();
  *found = !ptxas.empty();
  if (!*found)
    return true;

  llvm::SmallString<128> ptxPath, cubinPath, logPath;
  int ptxFD = -1;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tessera", "ptx", ptxFD, ptxPath)) {
    *error = "cannot create a temporary file for ptxas: " + ec.message();
    return false;
  }
  llvm::FileRemover removePtx(ptxPath);
  {
    llvm::raw_fd_ostream os(ptxFD, /*shouldClose=*/true);
    os << ptx;
    os.flush();
    if (os.has_error()) {
      *error = "cannot write '" + std::string(ptxPath) + "': " + os.error().message();
      os.clear_error();
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tessera", "cubin", cubinPath)) {
    *error = "cannot create a temporary file for ptxas: " + ec.message();
    return false;
  }
  llvm::FileRemover removeCubin(cubinPath);
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile("tessera", "log", logPath)) {
    *error = "cannot create a temporary file for ptxas: " + ec.message();
    return false;
  }
  llvm::FileRemover removeLog(logPath);

  std::string arch = "-arch=" + target;
  llvm::SmallVector<llvm::StringRef, 8> args = {ptxas, arch, "-O3", "-o", cubinPath, ptxPath};
  std::optional<llvm::StringRef> redirects[] = {llvm::StringRef(""), llvm::StringRef(logPath),
                                                llvm::StringRef(logPath)};
  std::string execError;
  bool executionFailed = false;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0, &execError,
                                     &executionFailed);
  if (executionFailed || rc != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath, /*IsText=*/true))
      log = (*buffer)->getBuffer().str();
    if (!execError.empty())
      log += (log.empty() ? "" : "\n") + execError;
    *error = withDetails("ptxas (" + ptxas + " " + arch + ") failed" +
                             (executionFailed ? std::string() : " with exit code " +
                                                                    std::to_string(rc)),
                         log);
    return false;
  }
  auto buffer = llvm::MemoryBuffer::getFile(cubinPath, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer || (*buffer)->getBufferSize() == 0) {
    *error = "ptxas produced no cubin at '" + std::string(cubinPath) + "'";
    return false;
  }
  *cubin = (*buffer)->getBuffer().str();
  return true;
}

} // namespace tessera::compiler
