#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root, or with sudo) and runs the quickstart:
#   1. apt-get installs LLVM/MLIR 22 and the libraries its CMake config looks for (DESIGN.md,
#      "Environment facts"), the build tools and the Python headers;
#   2. pip installs the Python tooling (numpy, pytest, pybind11, lit, matplotlib for the benchmark
#      plots, and NVIDIA's cuobjdump and nvdisasm wheels, which the CPU tier's SASS checks read
#      cubins with) and PyTorch, which the op tests run on the CPU with (PyPI's wheel is the CUDA
#      build, about 5 GB with its NVIDIA libraries; it runs CPU tensors without a driver);
#   3. configures and builds everything (CMake, Ninja, Release) into build/;
#   4. pip installs the tessera package (editable, from python/);
#   5. runs examples/quickstart.py (JIT-compiles the example kernels; runs them where there is a GPU).
# The CUDA 13 toolkit is expected at /usr/local/cuda (ptxas, cuda.h, libdevice); no GPU is needed.
#
# Usage: scripts/setup.sh [--no-apt] [--no-quickstart]
# Environment: BUILD_DIR (default build), PYTHON (default python3), CUDA_HOME (default
# /usr/local/cuda), JOBS (parallel build jobs; default: Ninja's choice).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
python="${PYTHON:-python3}"
cuda="${CUDA_HOME:-/usr/local/cuda}"
apt=1
quickstart=1

for arg in "$@"; do
  case "$arg" in
    --no-apt) apt=0 ;;
    --no-quickstart) quickstart=0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "run as root (or install sudo)"
  sudo=(sudo)
fi

# ---- 1. system packages -------------------------------------------------------------------------
packages=(
  # LLVM/MLIR 22 and what its CMake config looks for (DESIGN.md, "Environment facts")
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libzstd-dev zlib1g-dev libxml2-dev libedit-dev libcurl4-openssl-dev libffi-dev libncurses-dev
  # build tools, GoogleTest, Python with headers; clang with libFuzzer for the fuzz tier
  cmake ninja-build g++ ccache libgtest-dev binutils git ca-certificates clang libclang-rt-14-dev
  python3 python3-dev python3-pip python3-venv
)
if [ "$apt" -eq 1 ]; then
  say "apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

if [ ! -x "$cuda/bin/ptxas" ] || [ ! -f "$cuda/include/cuda.h" ] || [ ! -d "$cuda/nvvm/libdevice" ]; then
  die "the CUDA 13 toolkit is expected at $cuda (bin/ptxas, include/cuda.h, nvvm/libdevice);" \
      "install it (NVIDIA's cuda-toolkit-13-0 package) or set CUDA_HOME"
fi

# ---- 2. Python tooling --------------------------------------------------------------------------
say "pip install numpy pytest pybind11 lit matplotlib nvidia-cuda-{cuobjdump,nvdisasm} torch"
# Debian's python3 is "externally managed" (PEP 668); this machine is dedicated to the build, and
# `python3 -c "import tessera"` must work in any new shell, so install into it rather than a venv.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
"$python" -m pip install -q numpy pytest pybind11 lit matplotlib nvidia-cuda-cuobjdump \
  nvidia-cuda-nvdisasm torch

# ---- 3. configure and build ---------------------------------------------------------------------
python_exe="$(command -v "$python")"
say "configure $build (Release, Ninja)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$python_exe" -DPython3_EXECUTABLE="$python_exe" \
  -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)" -DTESSERA_CUDA_ROOT="$cuda"
say "build"
jobs=()
if [ -n "${JOBS:-}" ]; then jobs=(--parallel "$JOBS"); fi
cmake --build "$build" "${jobs[@]}"

# ---- 4. the Python package ----------------------------------------------------------------------
say "pip install -e python"
"$python" -m pip install -q -e "$root/python"
(cd / && "$python" -c "import tessera; print('tessera imports from', tessera.__file__)")

# ---- 5. quickstart ------------------------------------------------------------------------------
if [ "$quickstart" -eq 1 ]; then
  say "python3 examples/quickstart.py"
  "$python" "$root/examples/quickstart.py"
fi
say "setup done; run every test with scripts/test.sh"
