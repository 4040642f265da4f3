"""Evaluation (the ``eval`` step): rank every query set with each system, measure, store, export.

One *eval run* = one system × language × condition, where the condition is ``clean`` (the queries
as ingested or translated) or a variant set from ``perturb`` (misspelled variants). Retrieval is
within the query's scope when the dataset has scopes (LoCoMo: the conversation), over all passages
otherwise. Only queries with qrels are evaluated (as in ir_measures); the count of those without
is recorded.

One module per job:

- :mod:`~xlcli.eval.systems`    what a system is (today an index; an index × query rewrite next)
- :mod:`~xlcli.eval.plan`       the request validated against the store, before any write
- :mod:`~xlcli.eval.querysets`  clean and variant query sets with their qrels
- :mod:`~xlcli.eval.retrieve`   ranking query texts with an index, encoders and query vectors cached
- :mod:`~xlcli.eval.runs`       run keys, measuring a run, storing it and reading it back
- :mod:`~xlcli.eval.runner`     :func:`~xlcli.eval.runner.evaluate`: the step, resumable run by run
- :mod:`~xlcli.eval.trec`       TREC run and qrels files from stored runs
"""
