"""The front end: Python AST -> tile IR.

``ir_builder`` (IR text), ``source`` and ``function`` (parsed kernel functions),
``returns`` (return lowering), ``code_generator`` (the AST walker), ``specialization``
(one module per specialisation) and ``aot`` (``tessera.compile``). Nothing is imported
here, so that ``tessera.language`` can use ``ir_builder`` without import cycles.
"""
