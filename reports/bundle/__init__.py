"""The evidence bundle and the sealed month: records segments, proofs, documents, and the
standalone `verify.py` built from `collector.portable`.

May import `collector` and `reports.sla`, `reports.sources` and `reports.render`.
"""
