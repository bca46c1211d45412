"""Hooks other pytest plugins may implement to adapt dmsval (declared with pytest_addhooks)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec(firstresult=True)
def pytest_dmsval_dms_client(aws: Any) -> Any:
    """Return the DMS client used for describe_table_statistics, or None for ``aws.client("dms")``.

    The local stack uses it to serve that one call (which moto lacks) from botocore's Stubber.
    """
