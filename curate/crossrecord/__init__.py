"""The cross-record rules' core: duplicates (D001, D002), contradictions (C001) and leaks (L001-L004).

Parts, each with one job (docs/architecture.md draws the flow):

- ``settings``: what the selected rules need (``RuleSettings``), from their options;
- ``features``: the per-chunk extractor (the engine's ``crossrecord`` feature), run in
  the streaming pass, in worker processes with ``--jobs``; it returns a
  ``FeatureChunk`` of numpy columns and no text;
- ``store``: the column store, one per run, that appends each chunk once;
- ``ngram_index``: L004's protected n-grams, checked as training records stream in;
- ``matchers``: one matcher per rule code over the store's columns, and the
  "strongest finding per record" policy in one place (``Results``);
- ``rule``: the base class the rule modules in ``rules/`` derive from.

Near comparisons run ``curate.similarity.search``'s stages, the same as ``curate split``.
"""
