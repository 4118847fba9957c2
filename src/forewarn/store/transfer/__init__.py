"""Moving an embedded installation (one SQLite file) into PostgreSQL: ``forewarn store migrate``.

``source`` reads one snapshot of the SQLite file table by table; ``target`` applies the
PostgreSQL migrations and copies chunks by binary COPY, each committed with its position so an
interrupted run resumes exactly; ``run`` puts the steps in order and verifies the result.
"""

from forewarn.store.transfer.run import DEFAULT_CHUNK_ROWS, Interrupted, Observer, TableCheck, TransferReport, transfer
from forewarn.store.transfer.source import TransferError

__all__ = ["DEFAULT_CHUNK_ROWS", "Interrupted", "Observer", "TableCheck", "TransferError", "TransferReport", "transfer"]
