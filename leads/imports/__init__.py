"""Bulk import of leads from CSV or JSON lines files.

``jobs`` checks an upload and records the job, ``runner`` claims and runs it in
batches, reading the file through ``reading``, mapping its columns with ``mapping``,
cleaning each row with ``normalize`` and writing each batch with ``writer``.
"""

from leads.imports.jobs import lead_import_cancel, lead_import_create
from leads.imports.runner import Outcome, lead_import_run

__all__ = ["Outcome", "lead_import_cancel", "lead_import_create", "lead_import_run"]
