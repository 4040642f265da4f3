"""Query rewriting: translate-test (lexicon, mt) and same-language spelling correction (spell).

Modules, one job each:

- ``text``      splitting a query into words/numbers/separators; accent folding; recasing
- ``lexicon``   MUSE dictionaries read in either direction (en-xx in reverse), ranked translations
- ``fuzzy``     the typo-tolerant index (symspellpy + a rapidfuzz candidate scan), edit budgets
- ``compound``  compound splitting against the dictionary (Koehn & Knight 2003)
- ``names``     proper nouns of the passages per scope, Jaro–Winkler matching, Cyrillic romanisation
- ``cascade``   the per-word lookup cascade of the lexicon backend
- ``spell``     corpus vocabulary and the same-language corrector
- ``mt``        machine translation through ``xlcli.generate`` (seq2seq loading, targets, beam search)
- ``backends``  the registry ``BACKENDS`` (lexicon, mt, spell) and the request/context they build from
- ``store``     rewrite runs and rows; the read API evaluation uses
- ``runner``    plan (validate everything, load) and run (resumable, one transaction per batch)

Reading a rewrite from evaluation code::

    from xlcli.rewrite import store as rewrites
    run = rewrites.get_run(conn, "lex", dataset_id=ds_id)    # XlcliError naming the known runs if absent
    run.langs, run.split, run.variant_sets, run.target_lang   # what it covers
    run.covers("es", "ielab", "test")                         # condition 'clean' or a variant set name
    texts = rewrites.texts(conn, run.id)                       # {(query_id, variant_id): text}, 0 = clean
"""
