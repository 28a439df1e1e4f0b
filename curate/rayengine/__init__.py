"""``--engine ray``: the lint's read, record-rule and cross-record stages on Ray Data (docs/ray.md).

Parts: ``session`` (the Ray import and connection), ``read`` (files -> a dataset of records, numbered
as the local engine numbers them), ``lint`` (the lint's stages over that dataset), ``rows`` (the
cross-record feature rows kept in Ray), ``search`` (D001, D002, L001 and L002 as Ray group-bys).
"""
