"""Cross-lingual fine-tuning of dense retrievers (the ``train`` step).

One module per job:

- :mod:`~xlcli.train.config`      the run's parameters, validated, and the key that identifies them
- :mod:`~xlcli.train.sources`     the ``--pairs`` sources: one registry entry per kind (parse, build, help)
- :mod:`~xlcli.train.pairs`       (query, positive passage) pairs from the store, and the leakage guard
- :mod:`~xlcli.train.alignment_data` line-aligned parallel sentences (Tatoeba / OPUS) for the alignment objective
- :mod:`~xlcli.train.negatives`   hard negatives mined from an index
- :mod:`~xlcli.train.sampler`     a seeded, language-mixed data order that resumes at any step
- :mod:`~xlcli.train.typos`       on-the-fly misspelled queries for typo-aware training / self-teaching
- :mod:`~xlcli.train.losses`      InfoNCE, the self-teaching KL, the alignment MSE
- :mod:`~xlcli.train.checkpoints` Hugging Face / sentence-transformers checkpoints and the trainer state
- :mod:`~xlcli.train.loop`        the optimisation loop (AdamW, warm-up/decay, clipping, accumulation, bf16)
- :mod:`~xlcli.train.distributed` DDP under torchrun: rank and world, joining and leaving the group, collectives
- :mod:`~xlcli.train.runs`        training runs, the loss log and checkpoint models in the store
"""
