// The fast launch path of @tessera.jit kernels (fast_launch.cpp): tessera._C.Launcher,
// tessera._C.GridLauncher and tessera._C.configure_fast_launch.
#pragma once

#include <pybind11/pybind11.h>

namespace tessera_python {

// Adds the launch types and configure_fast_launch to the module; call after Kernel is bound.
void register_fast_launch(pybind11::module_ &module);

} // namespace tessera_python
