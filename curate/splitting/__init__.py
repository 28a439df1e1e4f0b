"""`curate split`: a deterministic split that keeps every near-duplicate cluster inside one split.

``features`` (what the split knows of each record, from the leak rules' own
extractor and search), ``plan`` (clusters, assignment, verification), ``files``
(reading, writing and the final lint), ``command`` (the CLI). See docs/architecture.md.
"""

from curate.splitting.features import SplitOptions
from curate.splitting.plan import parse_ratios, plan_split, split_records

__all__ = ["SplitOptions", "parse_ratios", "plan_split", "split_records"]
