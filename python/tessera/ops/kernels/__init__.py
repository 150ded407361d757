"""The op library's kernels, in the tile language: one module per kernel family."""
