"""The files sparsenet ships (installed as ``sparsenet.shipped``, read through ``importlib.resources``):
the masks built from iJO1366 and e_coli_core, and the recorded results of ``sparsenet control``."""
