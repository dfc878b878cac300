"""The experiment kinds, one module each: toy, loss_decomposition, phase (+ phase_point),
phase_free_optimum, polytope, sae. Each registers itself in verify/registry.py where it is defined;
verify/catalog.py lists them. What a kind is: verify/kind.py.
"""
