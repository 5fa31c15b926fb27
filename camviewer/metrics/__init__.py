"""Faithfulness metrics as pure functions: region grids, perturbations, AOPC curves, Max Sensitivity,
HAAS and localisation. Each module states its definition in its docstring."""
