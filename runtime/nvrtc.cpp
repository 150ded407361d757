#include "runtime/nvrtc.h"

#include <dlfcn.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <memory>

namespace tessera::runtime {
namespace {

constexpr const char *kSonames[] = {"libnvrtc.so.13", "libnvrtc.so"};
constexpr const char *kDefaultCudaRoot = "/usr/local/cuda";

// $CUDA_HOME when set and non-empty, else "".
std::string cudaHome() {
  const char *home = std::getenv("CUDA_HOME");
  return home ? home : "";
}

// The first directory holding the CUDA headers (cuda_fp16.h): $CUDA_HOME's, then the one of the
// toolkit the library came from (<toolkit>/lib64/libnvrtc.so -> <toolkit>/include, through
// symbolic links too), then /usr/local/cuda's. "" when none has them.
std::string findIncludeDirectory(const std::string &library) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!cudaHome().empty())
    candidates.push_back(fs::path(cudaHome()) / "include");
  fs::path path(library);
  if (path.is_absolute()) {
    candidates.push_back(path.parent_path().parent_path() / "include");
    std::error_code error;
    fs::path resolved = fs::canonical(path, error);
    if (!error)
      candidates.push_back(resolved.parent_path().parent_path() / "include");
  }
  candidates.push_back(fs::path(kDefaultCudaRoot) / "include");
  for (const fs::path &directory : candidates) {
    std::error_code error;
    if (fs::is_regular_file(directory / "cuda_fp16.h", error))
      return directory.string();
  }
  return "";
}

// Stringizes the name of a table member for dlsym (nvrtc.h maps no names, unlike cuda.h).
#define TESSERA_NVRTC_SYMBOL_NAME(name) #name

// The program's log without its trailing NULs and whitespace.
StatusOr<std::string> programLog(const Nvrtc &nvrtc, nvrtcProgram program) {
  size_t size = 0;
  TESSERA_RETURN_IF_ERROR(
      nvrtc.check(nvrtc.nvrtcGetProgramLogSize(program, &size), "nvrtcGetProgramLogSize"));
  std::string log(size, '\0');
  if (size > 0)
    TESSERA_RETURN_IF_ERROR(
        nvrtc.check(nvrtc.nvrtcGetProgramLog(program, log.data()), "nvrtcGetProgramLog"));
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n' || log.back() == ' '))
    log.pop_back();
  return log;
}

bool setsLanguageStandard(const std::string &option) {
  return option.compare(0, 5, "--std") == 0 || option.compare(0, 4, "-std") == 0;
}

bool isPtxNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '.';
}

} // namespace

std::string Nvrtc::version() const {
  return "nvrtc " + std::to_string(major) + "." + std::to_string(minor);
}

Status Nvrtc::check(nvrtcResult result, const char *call) const {
  if (result == NVRTC_SUCCESS)
    return Status();
  const char *description = nvrtcGetErrorString ? nvrtcGetErrorString(result) : nullptr;
  return internalError(std::string(call) +
                       " failed: " + (description ? description : "unknown nvrtcResult") + " [" +
                       std::to_string(static_cast<int>(result)) + "]");
}

std::vector<std::string> nvrtcLibraryCandidates() {
  std::vector<std::string> candidates(std::begin(kSonames), std::end(kSonames));
  // The GPU hosts keep NVRTC in the toolkit's lib64, which is not always on the loader's path.
  std::vector<std::string> roots;
  if (!cudaHome().empty())
    roots.push_back(cudaHome());
  roots.push_back(kDefaultCudaRoot);
  for (const std::string &root : roots)
    for (const char *soname : kSonames)
      candidates.push_back(root + "/lib64/" + soname);
  return candidates;
}

StatusOr<const Nvrtc *> openNvrtc(const std::vector<std::string> &candidates) {
  void *library = nullptr;
  std::string tried;
  for (const std::string &candidate : candidates) {
    // RTLD_LOCAL: the symbols are reached through the table only. A library the process loaded
    // already (PyTorch's NVRTC, say) is found by its soname and shared.
    library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (library)
      break;
    const char *reason = dlerror();
    tried += "\n  " + candidate + ": " + (reason ? reason : "unknown reason");
  }
  if (!library)
    return unavailable("NVRTC (CUDA's run-time compiler) is not available, so CUDA C++ kernels "
                       "cannot be compiled. dlopen failed for:" +
                       tried +
                       "\nInstall the CUDA toolkit's NVRTC or set CUDA_HOME to a toolkit that "
                       "has lib64/libnvrtc.so");

  // Leaked on purpose: the table lives as long as the process, like the library it points into.
  auto *nvrtc = new Nvrtc();
#define TESSERA_RESOLVE_NVRTC_FUNCTION(name)                                                       \
  nvrtc->name =                                                                                    \
      reinterpret_cast<decltype(nvrtc->name)>(dlsym(library, TESSERA_NVRTC_SYMBOL_NAME(name)));    \
  if (!nvrtc->name)                                                                                \
    return unavailable("the NVRTC library has no symbol " TESSERA_NVRTC_SYMBOL_NAME(               \
        name) ": it is too old for Tessera (CUDA 11.1 or newer is needed)");
  TESSERA_NVRTC_FUNCTIONS(TESSERA_RESOLVE_NVRTC_FUNCTION)
#undef TESSERA_RESOLVE_NVRTC_FUNCTION

  TESSERA_RETURN_IF_ERROR(
      nvrtc->check(nvrtc->nvrtcVersion(&nvrtc->major, &nvrtc->minor), "nvrtcVersion"));
  Dl_info info{};
  if (dladdr(reinterpret_cast<void *>(nvrtc->nvrtcVersion), &info) && info.dli_fname)
    nvrtc->library = info.dli_fname;
  nvrtc->includeDirectory = findIncludeDirectory(nvrtc->library);
  return static_cast<const Nvrtc *>(nvrtc);
}

StatusOr<const Nvrtc *> loadNvrtc() {
  // A function-local static is initialised once, thread-safely, and keeps the failure too.
  static const StatusOr<const Nvrtc *> nvrtc = openNvrtc(nvrtcLibraryCandidates());
  return nvrtc;
}

StatusOr<int32_t> ptxEntryParamCount(std::string_view ptx, std::string_view entry) {
  std::string kernels;
  for (size_t at = ptx.find(".entry"); at != std::string_view::npos;
       at = ptx.find(".entry", at + 1)) {
    size_t begin = ptx.find_first_not_of(" \t\r\n", at + 6);
    if (begin == std::string_view::npos || begin == at + 6)
      continue; // ".entry" inside a longer word
    size_t end = begin;
    while (end < ptx.size() && isPtxNameChar(ptx[end]))
      ++end;
    std::string_view name = ptx.substr(begin, end - begin);
    size_t open = ptx.find('(', end);
    size_t close = open == std::string_view::npos ? open : ptx.find(')', open);
    if (name != entry || close == std::string_view::npos) {
      kernels += (kernels.empty() ? "" : ", ") + std::string(name);
      continue;
    }
    std::string_view params = ptx.substr(open, close - open);
    int32_t count = 0;
    for (size_t p = params.find(".param"); p != std::string_view::npos;
         p = params.find(".param", p + 1))
      ++count;
    return count;
  }
  return notFound("the program has no kernel named '" + std::string(entry) +
                  "' (its kernels: " + (kernels.empty() ? "none" : kernels) +
                  "); declare the entry extern \"C\" __global__ so that its name is not mangled");
}

StatusOr<CudaProgram> compileCudaSource(const Nvrtc &nvrtc, const CudaSourceSpec &spec) {
  // NVRTC reads the source as a C string: the view is not NUL-terminated.
  std::string source(spec.source);
  std::string name = spec.entry + ".cu"; // how the log names the source: "wkv7.cu(12): error"
  nvrtcProgram program = nullptr;
  TESSERA_RETURN_IF_ERROR(nvrtc.check(
      nvrtc.nvrtcCreateProgram(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr),
      "nvrtcCreateProgram"));
  auto destroy = [&nvrtc](nvrtcProgram *p) { (void)nvrtc.nvrtcDestroyProgram(p); };
  std::unique_ptr<nvrtcProgram, decltype(destroy)> owned(&program, destroy);

  std::vector<std::string> options = {"--gpu-architecture=" + spec.target};
  if (!nvrtc.includeDirectory.empty())
    options.push_back("-I" + nvrtc.includeDirectory);
  bool standardGiven = false;
  for (const std::string &option : spec.options)
    standardGiven = standardGiven || setsLanguageStandard(option);
  if (!standardGiven)
    options.push_back("--std=c++17");
  options.insert(options.end(), spec.options.begin(), spec.options.end());
  std::vector<const char *> pointers;
  for (const std::string &option : options)
    pointers.push_back(option.c_str());

  nvrtcResult compiled = nvrtc.nvrtcCompileProgram(program, int(pointers.size()), pointers.data());
  StatusOr<std::string> log = programLog(nvrtc, program);
  if (!log.ok())
    return log.status();
  std::string what = "'" + spec.entry + "' for " + spec.target;
  if (compiled == NVRTC_ERROR_INVALID_OPTION)
    return invalidArgument("NVRTC rejected an option of " + what + ": " + *log);
  if (compiled == NVRTC_ERROR_COMPILATION) {
    std::string message = "NVRTC could not compile " + what + ":\n" + *log;
    if (nvrtc.includeDirectory.empty())
      message += "\n(no CUDA headers were found for -I: set CUDA_HOME to a CUDA toolkit)";
    return compileError(message);
  }
  TESSERA_RETURN_IF_ERROR(nvrtc.check(compiled, "nvrtcCompileProgram").annotate(what));

  CudaProgram result;
  result.log = std::move(*log);
  size_t size = 0;
  TESSERA_RETURN_IF_ERROR(nvrtc.check(nvrtc.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize"));
  result.ptx.assign(size, '\0');
  TESSERA_RETURN_IF_ERROR(
      nvrtc.check(nvrtc.nvrtcGetPTX(program, result.ptx.data()), "nvrtcGetPTX"));
  while (!result.ptx.empty() && result.ptx.back() == '\0')
    result.ptx.pop_back();
  TESSERA_RETURN_IF_ERROR(
      nvrtc.check(nvrtc.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize"));
  if (size == 0)
    return internalError("NVRTC produced no cubin for " + what);
  result.cubin.assign(size, '\0');
  TESSERA_RETURN_IF_ERROR(
      nvrtc.check(nvrtc.nvrtcGetCUBIN(program, result.cubin.data()), "nvrtcGetCUBIN"));

  StatusOr<int32_t> numParams = ptxEntryParamCount(result.ptx, spec.entry);
  if (!numParams.ok())
    return numParams.status();
  result.numParams = *numParams;
  return result;
}

} // namespace tessera::runtime
