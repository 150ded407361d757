// The pipeline driver: tile IR text -> tile (inlined, canonical) -> tilegpu -> LLVM + NVVM dialects
// -> LLVM IR -> PTX -> cubin, with every stage kept in CompiledKernel::stages, optionally dumped
// to a directory and replaceable from a file for debugging.
#include "compiler/Compiler.h"

#include "SourceHash.h"
#include "compiler/HostJIT.h"
#include "compiler/PTXEmitter.h"
#include "compiler/Passes.h"
#include "dialects/tile/TileDialect.h"
#include "dialects/tilegpu/TileGPUDialect.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/Extensions/InlinerExtension.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif
#ifndef TESSERA_LIBDEVICE_PATH
#define TESSERA_LIBDEVICE_PATH "/usr/local/cuda/nvvm/libdevice/libdevice.10.bc"
#endif

namespace tessera::compiler {
namespace {

using mlir::ModuleOp;
using mlir::OwningOpRef;

// A pipeline stage: its key in CompiledKernel::stages, the suffix of its dump file, and the
// environment variable that replaces it.
struct Stage {
  const char *key;
  const char *extension;
  const char *overrideEnv;
};
constexpr Stage kTileStage{"tile", "tile.mlir", "TESSERA_OVERRIDE_TILE"};
constexpr Stage kTileGPUStage{"tilegpu", "tilegpu.mlir", "TESSERA_OVERRIDE_TILEGPU"};
constexpr Stage kLLVMStage{"llvm", "llvm.mlir", "TESSERA_OVERRIDE_LLVM"};
constexpr Stage kLLIRStage{"llir", "ll", "TESSERA_OVERRIDE_LLIR"};
constexpr Stage kPTXStage{"ptx", "ptx", "TESSERA_OVERRIDE_PTX"};
constexpr Stage kCubinStage{"cubin", "cubin", "TESSERA_OVERRIDE_CUBIN"};
constexpr Stage kHostStage{"host", "host.mlir", "TESSERA_OVERRIDE_HOST"};
constexpr Stage kHostLLVMStage{"host-llvm", "host-llvm.mlir", "TESSERA_OVERRIDE_HOST_LLVM"};
constexpr Stage kHostLLIRStage{"host-llir", "host.ll", nullptr}; // dumped, not replaceable

constexpr llvm::StringLiteral kInputBufferName = "<tile-ir>";

// "file:line:col" of the first file location inside `loc` (through names, call sites (callee
// first) and fusions); empty if there is none. Errors found while parsing (bad syntax, invalid
// attributes) point into the input text; if that line of the input ends in the front end's
// `loc("file":line:col)`, that source location is reported instead.
std::string formatLocation(mlir::Location loc, llvm::StringRef input) {
  auto fileLoc = loc->findInstanceOf<mlir::FileLineColLoc>();
  if (!fileLoc)
    return std::string();
  if (fileLoc.getFilename() == kInputBufferName && fileLoc.getLine() > 0) {
    llvm::StringRef rest = input;
    for (unsigned line = 1; line < fileLoc.getLine() && !rest.empty(); ++line)
      rest = rest.split('\n').second;
    llvm::StringRef text = rest.split('\n').first;
    size_t at = text.rfind("loc(\"");
    if (at != llvm::StringRef::npos) {
      // loc("file":line:col)
      llvm::StringRef tail = text.drop_front(at + 5);
      size_t quote = tail.find('"');
      if (quote != llvm::StringRef::npos) {
        llvm::StringRef file = tail.take_front(quote);
        llvm::StringRef position = tail.drop_front(quote + 1);
        unsigned sourceLine = 0, sourceColumn = 0;
        if (position.consume_front(":") && !position.consumeInteger(10, sourceLine) &&
            position.consume_front(":") && !position.consumeInteger(10, sourceColumn) &&
            position.starts_with(")"))
          return (file + ":" + llvm::Twine(sourceLine) + ":" + llvm::Twine(sourceColumn)).str();
      }
    }
  }
  return (fileLoc.getFilename().getValue() + ":" + llvm::Twine(fileLoc.getLine()) + ":" +
          llvm::Twine(fileLoc.getColumn()))
      .str();
}

const char *severityName(mlir::DiagnosticSeverity severity) {
  switch (severity) {
  case mlir::DiagnosticSeverity::Error:
    return "error";
  case mlir::DiagnosticSeverity::Warning:
    return "warning";
  case mlir::DiagnosticSeverity::Note:
    return "note";
  case mlir::DiagnosticSeverity::Remark:
    return "remark";
  }
  return "error";
}

// Collects every diagnostic of the context as "file:line:col: severity: message" lines.
class DiagnosticCollector {
public:
  DiagnosticCollector(mlir::MLIRContext *context, llvm::StringRef input)
      : input(input), handler(context, [this](mlir::Diagnostic &diagnostic) {
          append(diagnostic);
          return mlir::success();
        }) {}

  const std::string &text() const { return lines; }
  bool hasErrors() const { return errors > 0; }

private:
  void append(mlir::Diagnostic &diagnostic) {
    if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Remark)
      return;
    if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Error)
      ++errors;
    appendOne(diagnostic);
    for (mlir::Diagnostic &note : diagnostic.getNotes())
      appendOne(note);
  }

  void appendOne(mlir::Diagnostic &diagnostic) {
    std::string location = formatLocation(diagnostic.getLocation(), input);
    if (!location.empty())
      lines += location + ": ";
    lines += severityName(diagnostic.getSeverity());
    lines += ": ";
    lines += diagnostic.str();
    lines += "\n";
  }

  llvm::StringRef input;
  std::string lines;
  int errors = 0;
  mlir::ScopedDiagnosticHandler handler;
};

std::optional<std::string> getEnv(const char *name) {
  const char *value = std::getenv(name);
  if (!value || !*value)
    return std::nullopt;
  return std::string(value);
}

// The kernel: the function marked tile.kernel or nvvm.kernel, else the only function with a body.
mlir::FunctionOpInterface findKernel(ModuleOp module) {
  mlir::FunctionOpInterface only;
  int withBody = 0;
  for (mlir::Operation &op : module.getBody()->getOperations()) {
    auto function = llvm::dyn_cast<mlir::FunctionOpInterface>(op);
    if (!function || function.isExternal())
      continue;
    if (op.hasAttr(mlir::tile::kKernelAttr) ||
        op.hasAttr(mlir::NVVM::NVVMDialect::getKernelFuncAttrName()))
      return function;
    only = function;
    ++withBody;
  }
  return withBody == 1 ? only : mlir::FunctionOpInterface();
}

std::string printModule(ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  // Keep the locations, so that a dumped stage parsed back (an override) still reports source
  // lines.
  module->print(os, mlir::OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                            /*prettyForm=*/false));
  return text;
}

std::string trimTrailingNewlines(std::string text) {
  while (!text.empty() && text.back() == '\n')
    text.pop_back();
  return text;
}

uint64_t fnv1a(llvm::StringRef text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// The dialects of every stage, from tile IR to the LLVM dialect.
mlir::DialectRegistry makeRegistry() {
  mlir::DialectRegistry registry;
  registry.insert<mlir::tile::TileDialect, mlir::tilegpu::TileGPUDialect, mlir::arith::ArithDialect,
                  mlir::math::MathDialect, mlir::scf::SCFDialect, mlir::cf::ControlFlowDialect,
                  mlir::func::FuncDialect, mlir::LLVM::LLVMDialect, mlir::NVVM::NVVMDialect,
                  mlir::memref::MemRefDialect>();
  mlir::func::registerInlinerExtension(registry);
  registerPTXEmitterTranslations(registry);
  return registry;
}

// One compilation: the context, its diagnostics, the options and the output being filled.
class Driver {
public:
  Driver(const std::string &tileIR, const CompileOptions &options, CompiledKernel *out,
         std::string *error)
      : tileIR(tileIR), context(makeRegistry(), mlir::MLIRContext::Threading::DISABLED),
        diagnostics(&context, tileIR),
        options(options), out(out), error(error) {
    context.loadAllAvailableDialects();
    if (!options.dumpDir.empty())
      dumpDir = options.dumpDir;
    else if (auto dir = getEnv("TESSERA_DUMP_DIR"))
      dumpDir = *dir;
  }

  bool run();
  // Compiles for the host CPU instead: tile IR -> loops over buffers -> LLVM -> the JIT.
  bool runHost(const std::map<std::string, void *> &runtimeSymbols, HostCompiledKernel *host);

private:
  bool runTileStage();

  bool fail(const std::string &message) {
    std::string text = diagnostics.text();
    if (!message.empty())
      text += "error: " + message;
    *error = trimTrailingNewlines(text);
    if (error->empty())
      *error = "error: compilation failed";
    return false;
  }

  bool parse(llvm::StringRef text, llvm::StringRef bufferName, OwningOpRef<ModuleOp> *result) {
    mlir::ParserConfig config(&context);
    *result = mlir::parseSourceString<ModuleOp>(text, config, bufferName);
    return static_cast<bool>(*result);
  }

  // Updates the kernel name from the current module.
  bool refreshKernel(const char *stage) {
    mlir::FunctionOpInterface kernel = findKernel(*module);
    if (!kernel)
      return fail(std::string("no kernel in the ") + stage +
                  " module (expected one function marked tile.kernel or nvvm.kernel)");
    out->kernelName = mlir::SymbolTable::getSymbolName(kernel).str();
    out->numParams = static_cast<int>(kernel.getNumArguments());
    return true;
  }

  // The file replacing `stage`, if its variable is set: the file itself, or in a directory,
  // `<kernel>.<extension>` when it exists there.
  std::optional<std::string> overridePath(const Stage &stage) {
    auto path = getEnv(stage.overrideEnv);
    if (!path)
      return std::nullopt;
    if (llvm::sys::fs::is_directory(*path)) {
      llvm::SmallString<256> file(*path);
      llvm::sys::path::append(file, out->kernelName + "." + stage.extension);
      if (!llvm::sys::fs::exists(file))
        return std::nullopt;
      return std::string(file);
    }
    return path;
  }

  bool readOverride(const Stage &stage, const std::string &path, std::string *text) {
    auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      return fail(std::string(stage.overrideEnv) + ": cannot read '" + path +
                  "': " + buffer.getError().message());
    *text = (*buffer)->getBuffer().str();
    return true;
  }

  void dump(const Stage &stage, const std::string &text, const char *suffix = "") {
    if (dumpDir.empty())
      return;
    if (llvm::sys::fs::create_directories(dumpDir))
      return; // dumping is best-effort
    llvm::SmallString<256> file(dumpDir);
    llvm::sys::path::append(file, out->kernelName + "." + stage.extension + suffix);
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec, llvm::sys::fs::OF_None);
    if (!ec)
      os << text;
  }

  // Records a stage's text (replaced from its override file, if any) and dumps it.
  bool record(const Stage &stage, std::string text, bool *overridden = nullptr) {
    if (overridden)
      *overridden = false;
    if (auto path = overridePath(stage)) {
      if (!readOverride(stage, *path, &text))
        return false;
      if (overridden)
        *overridden = true;
    }
    dump(stage, text);
    out->stages[stage.key] = std::move(text);
    return true;
  }

  // Records an MLIR stage; if it was replaced, parses the replacement as the module to go on
  // with.
  bool recordModule(const Stage &stage) {
    bool overridden = false;
    if (!record(stage, printModule(*module), &overridden))
      return false;
    if (!overridden)
      return true;
    OwningOpRef<ModuleOp> replacement;
    if (!parse(out->stages[stage.key], stage.overrideEnv, &replacement))
      return fail(std::string("cannot parse the module from ") + stage.overrideEnv);
    module = std::move(replacement);
    return refreshKernel(stage.key);
  }

  bool runPasses(const Stage &stage, const std::function<void(mlir::PassManager &)> &build) {
    mlir::PassManager passes(&context, ModuleOp::getOperationName());
    build(passes);
    if (mlir::succeeded(passes.run(*module)))
      return true;
    dump(stage, printModule(*module), ".failed");
    return fail(std::string("the ") + stage.key + " stage failed for kernel '" +
                out->kernelName + "'");
  }

  const std::string &tileIR;
  mlir::MLIRContext context;
  DiagnosticCollector diagnostics;
  const CompileOptions &options;
  CompiledKernel *out;
  std::string *error;
  std::string dumpDir;
  OwningOpRef<ModuleOp> module;
};

// The tile IR as given, parsed and verified, then inlined and simplified.
bool Driver::runTileStage() {
  if (!parse(tileIR, kInputBufferName, &module))
    return fail("cannot parse the tile IR");
  if (!refreshKernel("tile"))
    return false;
  return runPasses(kTileStage,
                   [](mlir::PassManager &pm) {
                     pm.addPass(mlir::createInlinerPass());
                     pm.addPass(mlir::createCanonicalizerPass());
                     pm.addPass(mlir::createCSEPass());
                   }) &&
         refreshKernel("tile") && recordModule(kTileStage);
}

bool Driver::run() {
  // (a) tile: inlined and simplified.
  if (!runTileStage())
    return false;

  // (b) tilegpu: distributed layouts.
  if (!runPasses(kTileGPUStage,
                 [&](mlir::PassManager &pm) {
                   mlir::tessera::ConvertTileToTileGPUOptions layoutOptions;
                   layoutOptions.numWarps = options.numWarps;
                   layoutOptions.target = options.target;
                   pm.addPass(mlir::tessera::createConvertTileToTileGPU(layoutOptions));
                   pm.addPass(mlir::tessera::createTileGPURemoveLayoutConversions());
                   pm.addPass(mlir::createCanonicalizerPass());
                   pm.addPass(mlir::createCSEPass());
                   mlir::tessera::TileGPUPipelineOptions pipelineOptions;
                   pipelineOptions.numStages = options.numStages;
                   pipelineOptions.maxSharedBytes = maxSharedBytesPerBlock(options.target);
                   pipelineOptions.useTMA = options.target == "sm_90a";
                   pm.addPass(mlir::tessera::createTileGPUPipeline(pipelineOptions));
                   pm.addPass(mlir::createCanonicalizerPass());
                   pm.addPass(mlir::createCSEPass());
                 }) ||
      !recordModule(kTileGPUStage))
    return false;

  // (c) the LLVM and NVVM dialects.
  if (!runPasses(kLLVMStage, [](mlir::PassManager &pm) {
        pm.addPass(mlir::tessera::createConvertTileGPUToLLVM());
        pm.addPass(mlir::createSCFToControlFlowPass());
        pm.addPass(mlir::createConvertControlFlowToLLVMPass());
        pm.addPass(mlir::createArithToLLVMConversionPass());
        pm.addPass(mlir::createReconcileUnrealizedCastsPass());
        pm.addPass(mlir::createCanonicalizerPass());
        pm.addPass(mlir::createCSEPass());
      }))
    return false;
  if (!refreshKernel("llvm"))
    return false;
  {
    // The runtime launches num_warps * 32 threads per program; telling ptxas lets it budget
    // registers for exactly that.
    mlir::Operation *kernel = findKernel(*module);
    if (!kernel->hasAttr(mlir::NVVM::NVVMDialect::getReqntidAttrName()) &&
        !kernel->hasAttr(mlir::NVVM::NVVMDialect::getMaxntidAttrName()))
      kernel->setAttr(mlir::NVVM::NVVMDialect::getReqntidAttrName(),
                      mlir::DenseI32ArrayAttr::get(&context, {options.numWarps * 32}));
  }
  if (!recordModule(kLLVMStage))
    return false;
  out->sharedBytes = 0;
  if (auto shared =
          (*module)->getAttrOfType<mlir::IntegerAttr>(mlir::tessera::kSharedBytesAttr))
    out->sharedBytes = static_cast<int>(shared.getInt());

  // (d) LLVM IR and PTX.
  PTXOutput emitted;
  std::string emitError;
  if (!emitPTX(module->getOperation(), options.target, &emitted, &emitError))
    return fail(emitError);
  bool overridden = false;
  if (!record(kLLIRStage, std::move(emitted.llir), &overridden))
    return false;
  if (overridden) {
    PTXOutput fromOverride;
    if (!emitPTXFromLLVMIR(out->stages[kLLIRStage.key], options.target, &fromOverride,
                           &emitError))
      return fail(emitError);
    emitted.ptx = std::move(fromOverride.ptx);
  }
  if (!record(kPTXStage, std::move(emitted.ptx)))
    return false;

  // (e) cubin, when ptxas is available (or a replacement is given).
  if (auto path = overridePath(kCubinStage))
    return record(kCubinStage, std::string());
  std::string cubin;
  bool found = false;
  if (!assembleCubin(out->stages[kPTXStage.key], options.target, &cubin, &found, &emitError))
    return fail(emitError);
  if (found)
    return record(kCubinStage, std::move(cubin));
  return true;
}

bool Driver::runHost(const std::map<std::string, void *> &runtimeSymbols,
                     HostCompiledKernel *host) {
  if (!runTileStage())
    return false;
  if (!runPasses(kHostStage,
                 [](mlir::PassManager &pm) {
                   pm.addPass(mlir::tessera::createConvertTileToHost());
                   pm.addPass(mlir::createCanonicalizerPass());
                   pm.addPass(mlir::createCSEPass());
                 }) ||
      !recordModule(kHostStage))
    return false;
  if (!runPasses(kHostLLVMStage, addHostLoweringPasses) || !recordModule(kHostLLVMStage))
    return false;
  std::string llir, jitError;
  host->program = createHostProgram(*module, out->kernelName, runtimeSymbols, &llir, &jitError);
  if (!host->program)
    return fail(jitError);
  dump(kHostLLIRStage, llir);
  out->stages[kHostLLIRStage.key] = std::move(llir);
  host->kernelName = out->kernelName;
  host->numParams = out->numParams;
  host->stages = std::move(out->stages);
  return true;
}

// Points `error` at `ignored` when the caller gave none and clears it; resets *out, or fails
// when there is none.
template <typename Output>
bool startOutput(Output *out, std::string *&error, std::string &ignored) {
  if (!error)
    error = &ignored;
  error->clear();
  if (!out) {
    *error = "error: no output given";
    return false;
  }
  *out = Output();
  return true;
}

bool validate(const CompileOptions &options, std::string *error) {
  if (!isSupportedTarget(options.target)) {
    *error = "error: invalid target '" + options.target + "' (expected one of " +
             kSupportedTargets + ")";
    return false;
  }
  int warps = options.numWarps;
  if (warps < 1 || warps > 32 || (warps & (warps - 1)) != 0) {
    *error = "error: invalid num_warps " + std::to_string(warps) +
             " (expected a power of two from 1 to 32)";
    return false;
  }
  if (options.numStages < 1) {
    *error = "error: invalid num_stages " + std::to_string(options.numStages) +
             " (expected at least 1)";
    return false;
  }
  return true;
}

} // namespace

bool compile(const std::string &tileIR, const CompileOptions &options, CompiledKernel *out,
             std::string *error) {
  std::string ignored;
  if (!startOutput(out, error, ignored))
    return false;
  out->numWarps = options.numWarps;
  if (!validate(options, error))
    return false;
  Driver driver(tileIR, options, out, error);
  return driver.run();
}

bool specializeArguments(const std::string &tileIR, const std::vector<ArgumentFacts> &facts,
                         std::string *out, std::string *error) {
  mlir::MLIRContext context(makeRegistry(), mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  DiagnosticCollector diagnostics(&context, tileIR);
  mlir::ParserConfig config(&context);
  OwningOpRef<ModuleOp> module = mlir::parseSourceString<ModuleOp>(tileIR, config, "tile IR");
  mlir::FunctionOpInterface kernel = module ? findKernel(*module) : mlir::FunctionOpInterface();
  if (!kernel) {
    *error = module ? "error: the tile IR has no kernel function"
                    : trimTrailingNewlines(diagnostics.text());
    return false;
  }
  if (kernel.getNumArguments() != facts.size()) {
    *error = "error: the kernel has " + std::to_string(kernel.getNumArguments()) +
             " parameters, not " + std::to_string(facts.size());
    return false;
  }
  mlir::Block &entry = kernel.getFunctionBody().front();
  mlir::OpBuilder builder = mlir::OpBuilder::atBlockBegin(&entry);
  for (unsigned i = 0; i < facts.size(); ++i) {
    mlir::BlockArgument argument = entry.getArgument(i);
    if (facts[i].equalsOne) {
      auto type = llvm::dyn_cast<mlir::IntegerType>(argument.getType());
      if (!type) {
        *error = "error: parameter " + std::to_string(i) + " is not an integer, so cannot be 1";
        return false;
      }
      auto one = builder.create<mlir::arith::ConstantOp>(argument.getLoc(),
                                                         builder.getIntegerAttr(type, 1));
      argument.replaceAllUsesWith(one);
    } else if (facts[i].divisibility > 1) {
      kernel.setArgAttr(i, mlir::tile::kDivisibilityAttr,
                        builder.getI32IntegerAttr(facts[i].divisibility));
    }
  }
  *out = printModule(*module);
  return true;
}

bool compileForHost(const std::string &tileIR, const std::map<std::string, void *> &runtimeSymbols,
                    HostCompiledKernel *out, std::string *error) {
  std::string ignored;
  if (!startOutput(out, error, ignored))
    return false;
  CompileOptions options;
  CompiledKernel scratch;
  Driver driver(tileIR, options, &scratch, error);
  return driver.runHost(runtimeSymbols, out);
}

const char *compilerVersion() {
  static const std::string version = [] {
    std::string identity = std::string("llvm ") + LLVM_VERSION_STRING +
                           "|libdevice " TESSERA_LIBDEVICE_PATH "|ptx " +
                           std::to_string(kPTXVersion) + "|sources " TESSERA_SOURCE_HASH;
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(fnv1a(identity)));
    return std::string(TESSERA_VERSION) + "+" + hex;
  }();
  return version.c_str();
}

} // namespace tessera::compiler
