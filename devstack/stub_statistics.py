"""pytest plugin for local runs: serves DMS describe_table_statistics (which moto lacks) from botocore's Stubber.

Load it with ``-p devstack.stub_statistics`` and point ``DMSVAL_STUB_TABLE_STATISTICS`` at a JSON list
of TableStatistics entries. Only that one call is stubbed: the client it returns is used for nothing else, and
everything else still goes to moto.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from botocore.stub import Stubber

ENV = "DMSVAL_STUB_TABLE_STATISTICS"
_stubbers: list[Stubber] = []  # keep them activated for the life of the run


def pytest_dmsval_dms_client(aws: Any) -> Any:
    path = os.environ.get(ENV)
    if not path:
        raise RuntimeError(f"-p devstack.stub_statistics needs {ENV} (a JSON list of TableStatistics)")
    tables = json.loads(Path(path).read_text(encoding="utf-8"))
    client = aws.client("dms")
    stubber = Stubber(client)
    stubber.add_response("describe_table_statistics", {"TableStatistics": tables})
    stubber.activate()
    _stubbers.append(stubber)
    return client


def completed_tables(row_counts: dict[str, int], schema: str) -> list[dict[str, Any]]:
    """TableStatistics of a completed full load (what DMS reports after a clean run)."""
    return [{"SchemaName": schema, "TableName": table, "FullLoadRows": rows, "Inserts": 0, "Updates": 0,
             "Deletes": 0, "Ddls": 0, "FullLoadErrorRows": 0, "TableState": "Table completed",
             "ValidationState": "Not enabled"} for table, rows in sorted(row_counts.items())]
