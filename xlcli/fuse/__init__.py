"""Rank fusion (the ``fuse`` step): systems combined into a new system, stored like eval runs.

A fused system combines the stored eval runs of two or more systems (an index, an index with a
query rewrite, or another fusion) query by query — for clean queries and for every misspelled
variant — and is then measured, stored and reported like any other system. Definitions follow
ranx (Bassani, ECIR 2022), which the tests use as the reference.

One module per job:

- :mod:`~xlcli.fuse.norms`     score normalisations (a registry: minmax, zmuv, sum, max, none)
- :mod:`~xlcli.fuse.methods`   fusion methods (a registry: rrf, combsum, combmnz, wsum, combmax, combanz)
- :mod:`~xlcli.fuse.combine`   one query's rankings → the fused ranking (normalise, fuse, order, cut)
- :mod:`~xlcli.fuse.inputs`    the input systems' stored eval runs and rankings per (language, condition)
- :mod:`~xlcli.fuse.optimize`  grid search of weights / RRF k on a non-evaluation split
- :mod:`~xlcli.fuse.store`     ``fusion_runs`` rows and the fused eval runs' keys
- :mod:`~xlcli.fuse.runner`    :func:`~xlcli.fuse.runner.fuse`: the step, resumable run by run
"""
