"""``manifest.parquet``: one row per input of a batch job, written whole or not at all.

Columns (``MANIFEST_SCHEMA``): ``input`` (path or URI), ``status`` (``ok`` written by this
run, ``skipped`` its files existed, ``error``), ``outputs`` (the files of that input, matte
first; empty for errors) and ``error`` (one line, null unless ``status`` is ``error``).
Read it with ``pandas.read_parquet`` / ``pyarrow.parquet.read_table``.
"""
from typing import Dict, List

import pyarrow as pa

__all__ = ['MANIFEST_SCHEMA', 'rows_to_table', 'write_manifest']

MANIFEST_SCHEMA = pa.schema([('input', pa.string()), ('status', pa.string()),
                             ('outputs', pa.list_(pa.string())), ('error', pa.string())])


def rows_to_table(rows: List[Dict]) -> pa.Table:
    """Rows {input, status, outputs, error} -> a Table of ``MANIFEST_SCHEMA``."""
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)


def write_manifest(table: pa.Table, location: str) -> None:
    """Write ``table`` as Parquet at a local path or URI, under a temporary name then renamed."""
    import pyarrow.parquet as pq
    from .sources import is_uri, write_bytes_at
    sink = pa.BufferOutputStream()
    pq.write_table(table.cast(MANIFEST_SCHEMA), sink)
    data = sink.getvalue().to_pybytes()
    if is_uri(location):
        write_bytes_at(location, data)
    else:
        from ..utils.output_files import write_bytes_atomically
        write_bytes_atomically(location, data)
