"""The base class of the cross-record rules (``rules/duplicates.py``, ``leakage.py``, ``contradiction.py``)."""

from __future__ import annotations

from curate.crossrecord.features import FEATURE
from curate.crossrecord.match import Match
from curate.crossrecord.results import Results
from curate.crossrecord.settings import RuleSettings
from curate.diagnostics import Finding


def shared_results(ctx, code: str) -> Results:
    """The run's shared results, with rule ``code`` and its options registered."""
    shared = ctx.shared_value(FEATURE, lambda: Results(ctx.splits))
    shared.register(code, ctx.options)
    return shared


class CrossRecordRule:
    """A rule over the shared feature store: ``collect`` feeds it, ``finish`` words its matcher's matches."""

    code = ""

    def __init__(self, ctx):
        RuleSettings.of({self.code: ctx.options}, ctx.splits)  # bad options fail here, before any work
        self.ctx = ctx
        self.table = ctx.table
        self.results = shared_results(ctx, self.code)

    def collect(self, refs, feats):
        self.results.store.ingest(refs, feats[FEATURE])

    def location(self, index: int):
        return self.table.location(index)

    def split_name(self, index: int) -> str:
        return self.table.splits[index]

    def finish(self):
        for m in self.results.result(self.code):
            loc, other = self.location(m.index), self.location(m.other)
            yield Finding(self.message(m, other), path=loc.path, line=loc.line, related=(other,), record=m.index)

    def message(self, match: Match, other) -> str:
        raise NotImplementedError
