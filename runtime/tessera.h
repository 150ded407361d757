/* Tessera C API: the compiler and the runtime behind opaque handles.
 *
 * Conventions: every fallible call returns a tessera_status_t, NULL meaning success; a non-NULL
 * status carries a code and a message and is owned by the caller (tessera_status_free). Out
 * parameters come last. Nothing here calls exit() or abort(). The runtime loads libcuda lazily,
 * so creating a runtime and compiling work on a machine without a GPU or driver. */
#ifndef TESSERA_H
#define TESSERA_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define TESSERA_API __attribute__((visibility("default")))
#else
#define TESSERA_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ---------------------------------------------------------------------------------- */
typedef enum tessera_status_code {
  TESSERA_OK = 0,
  TESSERA_INVALID_ARGUMENT = 1, /* a caller error: the message names the argument */
  TESSERA_COMPILE_ERROR = 2,    /* the kernel's IR was rejected or failed to lower */
  TESSERA_CUDA_ERROR = 3,       /* a driver call failed: the message names it and its error */
  TESSERA_UNAVAILABLE = 4,      /* no driver or no device on this machine */
  TESSERA_NOT_FOUND = 5,
  TESSERA_IO_ERROR = 6,
  TESSERA_INTERNAL = 7,
  TESSERA_CANCELLED = 8, /* a host launch stopped by its breakpoint handler */
} tessera_status_code;

typedef struct tessera_status* tessera_status_t;
TESSERA_API tessera_status_code tessera_status_get_code(tessera_status_t status);
TESSERA_API const char* tessera_status_message(tessera_status_t status); /* "" for NULL */
TESSERA_API void tessera_status_free(tessera_status_t status);
/* "OK", "INVALID_ARGUMENT", "NOT_FOUND", ...: the code's name, for messages. */
TESSERA_API const char* tessera_status_code_name(tessera_status_code code);

/* Version of the compiler; part of every kernel's cache identity. */
TESSERA_API const char* tessera_version(void);

/* ---- compiler -------------------------------------------------------------------------------- */
typedef struct tessera_compile_options {
  const char* target;  /* "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a" */
  int32_t num_warps;   /* power of two, 1..32 */
  int32_t num_stages;  /* >= 1 */
  uint32_t flags;      /* reserved, must be 0 */
} tessera_compile_options;

typedef struct tessera_compiled* tessera_compiled_t;

/* Compiles tile IR (textual MLIR holding one func.func with the tile.kernel attribute). Stage dumps
 * go to $TESSERA_DUMP_DIR when it is set. */
TESSERA_API tessera_status_t tessera_compile(const char* tile_ir, size_t tile_ir_size,
                                 const tessera_compile_options* options,
                                 tessera_compiled_t* out_compiled);
/* Stage text (or bytes): "tile", "tilegpu", "llir", "ptx", and "cubin" when ptxas was found. The
 * data stays owned by the compiled object. TESSERA_NOT_FOUND for a stage that was not produced. */
TESSERA_API tessera_status_t tessera_compiled_stage(tessera_compiled_t compiled, const char* stage,
                                        const char** out_data, size_t* out_size);
TESSERA_API const char* tessera_compiled_kernel_name(tessera_compiled_t compiled);
TESSERA_API int32_t tessera_compiled_shared_bytes(tessera_compiled_t compiled);
TESSERA_API int32_t tessera_compiled_num_params(tessera_compiled_t compiled);
TESSERA_API void tessera_compiled_free(tessera_compiled_t compiled);

/* ---- kernels on the host CPU -----------------------------------------------------------------
 * Tile IR compiled for this machine's CPU (the same front end and tile dialect, lowered to loops
 * and JIT-compiled by LLVM) and run on host memory, one program after another: for debugging
 * kernels and for testing them without a GPU. Needs no GPU, driver or CUDA toolkit. */
typedef struct tessera_host_kernel *tessera_host_kernel_t;

/* Host memory a launch lets its kernel access. A load, store or atomic outside every buffer of
 * the launch is not performed, the launch stops after that program, and it fails with
 * TESSERA_INVALID_ARGUMENT naming the access, the program id and the kernel's source line. */
typedef struct tessera_host_buffer {
  uint64_t address;
  uint64_t bytes;
  const char *name; /* for messages (may be NULL): the parameter it is passed as */
} tessera_host_buffer;

TESSERA_API tessera_status_t tessera_host_kernel_compile(const char *tile_ir, size_t tile_ir_size,
                                                         tessera_host_kernel_t *out_kernel);
/* Stage text: "tile", "host" (loops over buffers), "host-llvm" and "host-llir"; owned by the
 * kernel. */
TESSERA_API tessera_status_t tessera_host_kernel_stage(tessera_host_kernel_t kernel,
                                                       const char *stage, const char **out_data,
                                                       size_t *out_size);
TESSERA_API const char *tessera_host_kernel_name(tessera_host_kernel_t kernel);
TESSERA_API int32_t tessera_host_kernel_num_params(tessera_host_kernel_t kernel);
/* Runs every program of the grid. args[i] points at the i-th parameter's value: pointers as
 * uint64_t host addresses, tensor maps as any uint64_t (host kernels read through pointers). */
TESSERA_API tessera_status_t tessera_host_kernel_launch(
    tessera_host_kernel_t kernel, uint32_t grid_x, uint32_t grid_y, uint32_t grid_z, void **args,
    size_t num_args, const tessera_host_buffer *buffers, size_t num_buffers);
TESSERA_API void tessera_host_kernel_free(tessera_host_kernel_t kernel);

/* Breakpoints: Python's breakpoint() in a kernel. Each program of a host launch that reaches one
 * calls the process's breakpoint handler with the kernel's variables there (GPU kernels skip
 * breakpoints). tessera.language's handler opens pdb on them. */
typedef struct tessera_breakpoint_value {
  const char *name;     /* the kernel's variable */
  const char *dtype;    /* its elements' type: "fp16", "bf16", "fp32", "fp64", "int1" (bytes of 0
                           or 1), "int8" ... "int64", "uint8" ... "uint64", or "ptr" (addresses,
                           as uint64) */
  int32_t rank;         /* 0 for a scalar */
  const int64_t *shape; /* rank sizes */
  const void *data;     /* the elements, row-major: a copy, valid during the call only */
} tessera_breakpoint_value;

typedef struct tessera_breakpoint {
  const char *file; /* where breakpoint() is called */
  int32_t line;
  const char *function; /* the Python function that calls it: the kernel, or a callee inlined */
  int32_t program_id[3];
  size_t num_values;
  const tessera_breakpoint_value *values;
} tessera_breakpoint;

/* Returns 0 to go on, anything else to stop the launch: the program finishes with its further
 * loads, stores and atomics refused (loads give 0), no other program runs, and the launch fails
 * with TESSERA_CANCELLED. */
typedef int32_t (*tessera_breakpoint_handler)(const tessera_breakpoint *breakpoint,
                                              void *user_data);
/* Sets the process's handler; NULL (the default) makes breakpoints do nothing. The handler runs
 * on the thread running the launch's programs, and launches on several threads may call it at
 * once. */
TESSERA_API void tessera_host_set_breakpoint_handler(tessera_breakpoint_handler handler,
                                                     void *user_data);

/* ---- runtime --------------------------------------------------------------------------------- */
typedef struct tessera_runtime* tessera_runtime_t;
typedef struct tessera_kernel* tessera_kernel_t; /* owned by its runtime; valid until destroy */

/* Reads TESSERA_CACHE_DIR (default ~/.cache/tessera). Does not touch the driver. */
TESSERA_API tessera_status_t tessera_runtime_create(tessera_runtime_t* out_runtime);
TESSERA_API void tessera_runtime_destroy(tessera_runtime_t runtime);

TESSERA_API tessera_status_t tessera_device_count(tessera_runtime_t runtime, int32_t* out_count);
/* The device whose memory `pointer` addresses (for memory that carries no device of its own,
 * such as a __cuda_array_interface__). TESSERA_INVALID_ARGUMENT when the driver does not know the
 * address (host memory never registered, freed memory, NULL); TESSERA_UNAVAILABLE without one. */
TESSERA_API tessera_status_t tessera_pointer_device(tessera_runtime_t runtime, uint64_t pointer,
                                                    int32_t* out_device);
/* Writes the compile target for the device ("sm_80", "sm_90a", ...) into buf (NUL-terminated). */
TESSERA_API tessera_status_t tessera_device_target(tessera_runtime_t runtime, int32_t device, char* buf,
                                       size_t buf_size);

/* The runtime's cache directory ($TESSERA_CACHE_DIR, else ~/.cache/tessera; "" when there is
 * none), into buf (NUL-terminated). Compiled kernels and persisted tuning results live there. */
TESSERA_API tessera_status_t tessera_runtime_cache_directory(tessera_runtime_t runtime, char* buf,
                                                 size_t buf_size);

/* The kernel for (tile IR, options) loaded on `device`: from the in-memory cache, else the disk
 * cache, else compiled (and written to the disk cache). */
TESSERA_API tessera_status_t tessera_kernel_get(tessera_runtime_t runtime, const char* tile_ir,
                                    size_t tile_ir_size, const tessera_compile_options* options,
                                    int32_t device, tessera_kernel_t* out_kernel);
TESSERA_API int32_t tessera_kernel_num_params(tessera_kernel_t kernel);

/* Puts the binary for (tile IR, options) into the disk cache: found there, or compiled and
 * written. Needs no GPU or driver; options->target must be set. *out_compiled (may be NULL) is 1
 * when this call compiled, 0 when the cache had the kernel. A later tessera_kernel_get for the
 * same kernel, in any process using the same cache directory, then compiles nothing. */
TESSERA_API tessera_status_t tessera_kernel_precompile(tessera_runtime_t runtime,
                                                       const char* tile_ir, size_t tile_ir_size,
                                                       const tessera_compile_options* options,
                                                       int32_t* out_compiled);

/* args[i] points at the i-th parameter's value (as cuLaunchKernel's kernelParams). stream is a
 * CUstream (NULL: the legacy default stream) on the kernel's device. */
TESSERA_API tessera_status_t tessera_kernel_launch(tessera_kernel_t kernel, uint32_t grid_x, uint32_t grid_y,
                                       uint32_t grid_z, void* stream, void** args,
                                       size_t num_args);

/* ---- CUDA C++ kernels (the NVRTC backend) ----------------------------------------------------
 * Kernels written in CUDA C++, compiled at run time by NVRTC (libnvrtc, opened with dlopen on first
 * use: libnvrtc.so.13, libnvrtc.so, then $CUDA_HOME/lib64 and /usr/local/cuda/lib64; UNAVAILABLE
 * naming what was tried when there is none) into a cubin for the target, cached in memory and on
 * disk like tile kernels (a kernel key covers the source, every option below and NVRTC's version)
 * and launched with tessera_kernel_launch. NVRTC gets the caller's options after
 * --gpu-architecture=<target>, -I<the CUDA headers> (of $CUDA_HOME, of the toolkit NVRTC came
 * from, or /usr/local/cuda: <cuda_fp16.h> and <cuda_bf16.h> work) and --std=c++17 (unless an
 * option sets the standard). Options may not set the architecture or add include paths (-I,
 * -include): a source holds all it needs but the toolkit's headers, so that the key covers it.
 * COMPILE_ERROR carries NVRTC's log; NOT_FOUND says that `entry` is no kernel of the program (an
 * entry must be declared extern "C" __global__). */
typedef struct tessera_cuda_options {
  const char* entry;          /* the extern "C" __global__ function that launches run */
  const char* target;         /* as in tessera_compile_options; NULL or "": the device's own */
  int32_t num_warps;          /* threads per block = 32 * num_warps; a power of two, 1..32 */
  int32_t shared_bytes;       /* dynamic shared memory per block, >= 0 */
  const char* const* options; /* NVRTC options ("-DN=64", "--use_fast_math"); none: NULL */
  size_t num_options;
} tessera_cuda_options;

/* The version of the NVRTC that the runtime uses; UNAVAILABLE (saying what was tried) without
 * one. Needs no GPU. */
TESSERA_API tessera_status_t tessera_nvrtc_version(int32_t* out_major, int32_t* out_minor);

/* Compiles a CUDA C++ kernel without a GPU or a runtime (no cache). The result's stages are
 * "cuda" (the source), "ptx", "cubin" and, when NVRTC wrote one, "log" (its warnings); its kernel
 * name is options->entry and its parameter count that of the entry in the PTX. options->target
 * must be set. Free with tessera_compiled_free. */
TESSERA_API tessera_status_t tessera_cuda_compile(const char* source, size_t source_size,
                                                  const tessera_cuda_options* options,
                                                  tessera_compiled_t* out_compiled);

/* The CUDA C++ kernel loaded on `device`: from the in-memory cache, else the disk cache, else
 * compiled by NVRTC (and written to the disk cache). Launch it with tessera_kernel_launch, with
 * one argument per parameter of the entry. */
TESSERA_API tessera_status_t tessera_cuda_kernel_get(tessera_runtime_t runtime, const char* source,
                                                     size_t source_size,
                                                     const tessera_cuda_options* options,
                                                     int32_t device, tessera_kernel_t* out_kernel);

/* Puts the cubin of the CUDA C++ kernel into the disk cache (found there, or compiled and
 * written), as tessera_kernel_precompile does for tile kernels: no GPU needed, options->target
 * must be set, *out_compiled (may be NULL) is 1 when this call compiled. */
TESSERA_API tessera_status_t tessera_cuda_kernel_precompile(tessera_runtime_t runtime,
                                                            const char* source, size_t source_size,
                                                            const tessera_cuda_options* options,
                                                            int32_t* out_compiled);

/* Encodes the TMA tensor map (CUtensorMap, TESSERA_TENSOR_MAP_BYTES bytes) of a tiled view of a
 * tensor at device address `address` into `out_map`, which a kernel's tensor-map parameter takes
 * by value. Lists run outermost dimension first: `sizes` and `box` have `rank` (1..5) entries,
 * `stride_bytes` the strides of the first rank - 1 dimensions (the last one is contiguous).
 * `swizzle_bytes` is 0, 32, 64 or 128; a swizzled box row spans at most that many bytes.
 * Needs the driver; touches no device. */
#define TESSERA_TENSOR_MAP_BYTES 128
TESSERA_API tessera_status_t tessera_encode_tensor_map(uint64_t address, uint32_t rank,
                                                       const uint64_t* sizes,
                                                       const uint64_t* stride_bytes,
                                                       const uint32_t* box, uint32_t element_bytes,
                                                       uint32_t swizzle_bytes, void* out_map);

typedef struct tessera_stats {
  uint64_t compiles;     /* kernels compiled in this process */
  uint64_t disk_hits;    /* kernels loaded from the disk cache */
  uint64_t memory_hits;  /* tessera_kernel_get answered from memory */
  uint64_t launches;
  uint64_t bundle_hits;  /* kernels taken from a loaded bundle */
} tessera_stats;
TESSERA_API void tessera_runtime_get_stats(tessera_runtime_t runtime, tessera_stats* out_stats);

/* ---- bundles --------------------------------------------------------------------------------
 * A bundle file holds kernels compiled ahead of time (their tile IR, options and binaries) and the
 * autotuner's results for them; see runtime/bundle.h for the format. A runtime that loads one
 * takes those kernels from it: no disk-cache read, no compilation. Kernels it lacks are still
 * compiled (JIT fallback). */
typedef struct tessera_bundle* tessera_bundle_t;

/* A new, empty bundle to fill and write; `description` (may be NULL) says what it holds. */
TESSERA_API tessera_status_t tessera_bundle_create(const char* description,
                                                   tessera_bundle_t* out_bundle);
/* Reads and checks a bundle file (its op records included): NOT_FOUND without one, IO_ERROR naming
 * what is wrong. */
TESSERA_API tessera_status_t tessera_bundle_read(const char* path, tessera_bundle_t* out_bundle);
TESSERA_API void tessera_bundle_free(tessera_bundle_t bundle);
TESSERA_API int64_t tessera_bundle_num_kernels(tessera_bundle_t bundle); /* -1 for NULL */
TESSERA_API int64_t tessera_bundle_num_tuning(tessera_bundle_t bundle);  /* -1 for NULL */
/* Kernel `index`'s lookup name and target; the strings stay owned by the bundle. */
TESSERA_API tessera_status_t tessera_bundle_kernel(tessera_bundle_t bundle, int64_t index,
                                                   const char** out_name,
                                                   const char** out_target);
/* Tuning record `index`: kernel identity, key and config (JSON) and time; strings owned by the
 * bundle. */
TESSERA_API tessera_status_t tessera_bundle_tuning(tessera_bundle_t bundle, int64_t index,
                                                   const char** out_kernel, const char** out_key,
                                                   const char** out_config,
                                                   double* out_milliseconds);
/* Adds the kernel for (tile IR, options), found in `runtime`'s caches or compiled there (no GPU
 * needed; options->target must be set), under the lookup name `name`. */
TESSERA_API tessera_status_t tessera_bundle_add_kernel(tessera_runtime_t runtime,
                                                       tessera_bundle_t bundle, const char* name,
                                                       const char* tile_ir, size_t tile_ir_size,
                                                       const tessera_compile_options* options);
TESSERA_API tessera_status_t tessera_bundle_add_tuning(tessera_bundle_t bundle, const char* kernel,
                                                       const char* key, const char* config,
                                                       double milliseconds);
/* Adds an op record: how calls of op `op` ("matmul") map onto a bundled kernel (JSON, as
 * tessera.aot writes it; docs/op-records.md gives the format). INVALID_ARGUMENT saying what is
 * wrong with a malformed record. */
TESSERA_API tessera_status_t tessera_bundle_add_op(tessera_bundle_t bundle, const char* op,
                                                   const char* record);
TESSERA_API int64_t tessera_bundle_num_ops(tessera_bundle_t bundle); /* -1 for NULL */
/* Op record `index`: its op and JSON text; strings owned by the bundle, valid until its next
 * tessera_bundle_add_op or tessera_bundle_free. */
TESSERA_API tessera_status_t tessera_bundle_op(tessera_bundle_t bundle, int64_t index,
                                               const char** out_op, const char** out_record);
/* Writes the bundle to `path` (complete or not at all). */
TESSERA_API tessera_status_t tessera_bundle_write(tessera_bundle_t bundle, const char* path);
/* Makes the bundle's kernels available to `runtime` (tessera_kernel_get and
 * tessera_kernel_precompile take them from it). The bundle may be freed afterwards. */
TESSERA_API tessera_status_t tessera_runtime_load_bundle(tessera_runtime_t runtime,
                                                         tessera_bundle_t bundle);

/* The kernel that the bundles loaded into `runtime` list under `name` (tessera_bundle_kernel's
 * name), loaded on `device`: the bundle's binary for the device's target (a bundle hit: nothing is
 * compiled); when the bundles have `name` only for other targets, the tile IR and options of the
 * first loaded of them compiled for the device's target (JIT fallback: counted in compiles, cached
 * in memory and on disk like any kernel). NOT_FOUND naming `name` and the nearest bundled names
 * when no loaded bundle has it. A lookup hashes the kernel's tile IR: look a kernel up once and
 * keep the handle. */
TESSERA_API tessera_status_t tessera_runtime_get_bundled_kernel(tessera_runtime_t runtime,
                                                                const char* name, int32_t device,
                                                                tessera_kernel_t* out_kernel);
/* The kernels of the bundles loaded into `runtime`, one per (name, target), in the order they were
 * first loaded (a later bundle's kernel of the same name and target replaces the earlier one in
 * place); -1 for NULL. */
TESSERA_API int64_t tessera_runtime_num_bundled_kernels(tessera_runtime_t runtime);
/* Bundled kernel `index`'s name and target; the strings stay owned by the runtime and valid until
 * it is destroyed. */
TESSERA_API tessera_status_t tessera_runtime_bundled_kernel(tessera_runtime_t runtime,
                                                            int64_t index, const char** out_name,
                                                            const char** out_target);

/* ---- ops ------------------------------------------------------------------------------------
 * Ops of tessera.ops called from C and C++ on device memory, by name: "matmul" and "mm" (C = A @ B
 * of matrices) and the element-wise ops (add, sub, mul, div, pow, the comparisons, the bitwise
 * ops, clamp, the activations, dropout, ...). Their kernels come from loaded bundles, which
 * tessera.aot writes from an "ops" spec (or `tessera-aot --library`), with op records saying how a
 * call maps onto each kernel's parameters (docs/op-records.md).
 *
 * matmul: for each op case the bundle holds the kernel, the config its autotuner chose and an op
 * record, and for each config a generic kernel. A call the bundles list (same dtype, input
 * precision, target, sizes and strides) runs their kernel with their config: nothing is compiled
 * or tuned. Any other call (another shape, other strides, another GPU) is JIT-compiled in the
 * process: the generic kernel of the config of the nearest bundled case, specialised for the
 * call's sizes and strides that are multiples of 16, compiled once per specialisation and cached
 * like any kernel (the compiles stat counts it).
 *
 * Element-wise ops: for each function and dtype the bundle holds a kernel for contiguous tensors
 * (run as is: no compile) and generic kernels for any strides and broadcasting (32- and 64-bit
 * offsets), which a call specialises and compiles once, like matmul's. */
typedef enum tessera_dtype {
  TESSERA_NONE = 0, /* no tensor: an optional tensor argument left out (None in tessera.ops) */
  TESSERA_FLOAT16 = 1,
  TESSERA_BFLOAT16 = 2,
  TESSERA_FLOAT32 = 3,
  TESSERA_BOOL = 4, /* one byte holding 0 or 1 */
  TESSERA_UINT8 = 5,
  TESSERA_INT8 = 6,
  TESSERA_INT16 = 7,
  TESSERA_INT32 = 8,
  TESSERA_INT64 = 9,
} tessera_dtype;

#define TESSERA_MAX_RANK 8
/* A tensor in device memory, as PyTorch describes one: element [i0, i1, ...] lives at
 * data + (i0 * strides[0] + i1 * strides[1] + ...) * element size. A scalar operand is a 0-d
 * tensor (rank 0): PyTorch's type promotion treats it as such. */
typedef struct tessera_tensor {
  uint64_t data;  /* device address (of the device the op runs on); 0 only for an empty tensor */
  int32_t dtype;  /* a tessera_dtype */
  int32_t rank;   /* 0..TESSERA_MAX_RANK */
  int64_t sizes[TESSERA_MAX_RANK];
  int64_t strides[TESSERA_MAX_RANK]; /* in elements; >= 0 */
} tessera_tensor;

/* A keyword argument of an op, named as in tessera.ops ("alpha", "rounding_mode", "p", ...). */
typedef enum tessera_attribute_kind {
  TESSERA_ATTRIBUTE_INT = 1,    /* int_value; a bool is 0 or 1 */
  TESSERA_ATTRIBUTE_FLOAT = 2,  /* float_value */
  TESSERA_ATTRIBUTE_STRING = 3, /* string_value */
  TESSERA_ATTRIBUTE_INTS = 4,   /* int_values[0 .. num_int_values) (layer_norm's normalized_shape) */
} tessera_attribute_kind;

typedef struct tessera_op_attribute {
  const char* name;
  int32_t kind; /* a tessera_attribute_kind */
  int64_t int_value;
  double float_value;
  const char* string_value;
  const int64_t* int_values;
  size_t num_int_values;
} tessera_op_attribute;

typedef struct tessera_op_options {
  /* fp32 matmuls: "ieee" (exact fp32 products, PyTorch's default) or "tf32" (TF32 tensor cores,
   * torch.set_float32_matmul_precision("high")); NULL means "ieee". Other ops: NULL or "ieee". */
  const char* input_precision;
  /* The op's keyword arguments (NULL when num_attributes is 0); one left out takes its default. */
  const tessera_op_attribute* attributes;
  size_t num_attributes;
} tessera_op_options;

typedef struct tessera_op* tessera_op_t; /* owned by its runtime; valid until destroy */

/* The op `name` ("matmul", "add", "gelu", "softmax", ...). NOT_FOUND for a name that is not an op, naming the
 * ops; a known op whose kernels no loaded bundle holds is found, and its launches say what is
 * missing. */
TESSERA_API tessera_status_t tessera_runtime_get_op(tessera_runtime_t runtime, const char* name,
                                                    tessera_op_t* out_op);
/* Runs the op on `device`'s `stream` (a CUstream, NULL: the legacy default stream). The tensors
 * are the op's tensor arguments in tessera.ops' order, then out, which the caller allocates:
 *  - matmul, mm: input (M, K), mat2 (K, N), out (M, N), all of one floating dtype; out = input @
 *    mat2 (fp32 accumulation); strides are free (transposed and sliced views run as they are),
 *    out must not overlap the inputs.
 *  - unary ops (abs, neg, exp, rsqrt, sin, cos, sigmoid, tanh, relu, silu, gelu, isnan, isinf,
 *    bitwise_not, dropout): input, out. Binary ops (add, sub, mul, div, pow, eq, ne, lt, le, gt,
 *    ge, bitwise_and, bitwise_or): input, other (pow: exponent), out. clamp: input, min, max, out,
 *    one bound possibly TESSERA_NONE. Operands broadcast and promote as in PyTorch; out has the
 *    broadcast shape and the result's dtype or one it casts to; out may be an input itself (in
 *    place) but must not otherwise overlap one. Attributes: add, sub: "alpha" (int or float);
 *    div: "rounding_mode" ("trunc", "floor"; left out: true division); gelu: "approximate"
 *    ("none", "tanh"); dropout: "p" (float, default 0.5), "training" (int, default 1) and "seed"
 *    (int in [0, 2^62), required when dropping: the random stream is Philox keyed by it and by
 *    each element's index in input's logical order, as tessera.ops.dropout's).
 *  - softmax: input, out (contiguous, of input's shape and any floating dtype: softmax's dtype);
 *    attribute "dim" (int, required). layer_norm: input, weight, bias, out; rms_norm: input,
 *    weight, out; weight and bias of normalized_shape or TESSERA_NONE, out contiguous of input's
 *    shape and dtype; attributes "normalized_shape" (int or ints, required) and "eps" (float;
 *    defaults 1e-5, and for rms_norm the input dtype's machine epsilon). Inputs of any strides;
 *    the normalised dims must merge into one strided group.
 *  - rotary_position_embedding: input (B, S, H, D), sin_table, cos_table (S, D/2), out (input's
 *    shape and dtype, or input itself: in place); attribute "interleaved" (int, default 1).
 * `options` may be NULL. INVALID_ARGUMENT names the argument and what was expected; NOT_FOUND says
 * which kernel no loaded bundle holds. Asynchronous, like any launch. */
TESSERA_API tessera_status_t tessera_op_launch(tessera_op_t op, int32_t device, void* stream,
                                               const tessera_tensor* tensors, size_t num_tensors,
                                               const tessera_op_options* options);
/* What tessera_op_launch would run for the same arguments on a GPU of `target`, as JSON, into buf
 * (NUL-terminated; INVALID_ARGUMENT when it does not fit): {"kernel": the kernel's name in the
 * bundle, "path": "bundled" (a case the bundle lists) or "jit" (a generic kernel specialised for
 * the call), "config": {...}, "grid": [x, y, z], "params": [[name, value], ...] (the values the
 * kernel's parameters take, tensor maps as null), "divisibility": [what the kernel assumes each
 * parameter a multiple of], "ones": [parameters the kernel takes to be 1]}; element-wise ops and
 * the norms also give "launches" (the kernel launches of the call: more than one past four merged
 * dims, or grids past 2^31 programs) and describe the first; the norms list every launch in
 * "all". Needs no GPU, compiles nothing. */
TESSERA_API tessera_status_t tessera_op_describe(tessera_op_t op, const char* target,
                                                 const tessera_tensor* tensors,
                                                 size_t num_tensors,
                                                 const tessera_op_options* options, char* buf,
                                                 size_t buf_size);

/* Compiles the kernel that tessera_op_launch would run for the same arguments on a GPU of
 * `target` (a call the bundles do not list: its specialised generic kernel) into the disk cache,
 * without a GPU, so that a later launch in any process with the same cache directory compiles
 * nothing. *out_compiled (may be NULL) is 1 when this call compiled, 0 when the kernel was bundled
 * or cached already. Data pointers are only looked at, never read: their alignment matters. */
TESSERA_API tessera_status_t tessera_op_precompile(tessera_op_t op, const char* target,
                                                   const tessera_tensor* tensors,
                                                   size_t num_tensors,
                                                   const tessera_op_options* options,
                                                   int32_t* out_compiled);

/* Device memory, for callers without a framework. */
TESSERA_API tessera_status_t tessera_malloc(tessera_runtime_t runtime, int32_t device, size_t bytes,
                                uint64_t* out_pointer);
TESSERA_API tessera_status_t tessera_free(tessera_runtime_t runtime, int32_t device, uint64_t pointer);
TESSERA_API tessera_status_t tessera_memcpy_htod(tessera_runtime_t runtime, int32_t device, uint64_t dst,
                                     const void* src, size_t bytes);
TESSERA_API tessera_status_t tessera_memcpy_dtoh(tessera_runtime_t runtime, int32_t device, void* dst,
                                     uint64_t src, size_t bytes);
TESSERA_API tessera_status_t tessera_synchronize(tessera_runtime_t runtime, int32_t device);

#ifdef __cplusplus
}
#endif
#endif /* TESSERA_H */
