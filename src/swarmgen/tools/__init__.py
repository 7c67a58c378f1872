"""Tools that sit outside the runtime: calibration, the cheater zoo, model training.

The coordinator, the worker, the store, the SDK, the core and the backends never import
this package (an import contract in ``pyproject.toml`` checks it), so a production
process neither loads nor can be switched into anything that lives here.
"""
