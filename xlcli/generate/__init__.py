"""Cross-lingual query generation: a seq2seq (Hugging Face) backend, an offline lexicon backend,
machine translation of stored queries, and the store rows they write.

The method is that of Zhuang, Shou & Zuccon, "Augmenting Passage Representations with Query
Generation for Enhanced Cross-Lingual Dense Retrieval" (SIGIR 2023, arXiv 2305.03950): for every
passage and target language, N sampled queries, later folded into the passage's vector by
:mod:`xlcli.augment`.
"""
