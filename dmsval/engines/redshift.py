"""Amazon Redshift through redshift_connector (the DMS target).

Locally, PostgreSQL stands in for Redshift behind ``dmsval.localstack.redshift_shim``, so this very code path
(redshift_connector's wire protocol, type conversion and our SQL) is what the tests exercise.
"""

from __future__ import annotations

from typing import Any

import redshift_connector

from .postgres import PostgresFamilyEngine


class RedshiftEngine(PostgresFamilyEngine):
    name = "redshift"
    dms_engine_names = ("redshift", "redshift-serverless")
    sqlglot_dialect = "redshift"
    driver_errors = (redshift_connector.Error, OSError)

    def _open(self) -> Any:
        c = self.credentials
        ssl = c.ssl_mode not in ("none", "")
        # redshift_connector knows only verify-ca / verify-full; the endpoint's "require" (encrypt, do not
        # check the name) is closest to verify-ca with Redshift's bundled CA certificates
        sslmode = "verify-full" if c.ssl_mode == "verify-full" else "verify-ca"
        conn = redshift_connector.connect(
            host=c.host, port=c.port, user=c.user, password=c.password, database=c.database or "dev",
            ssl=ssl, sslmode=sslmode, timeout=30,
        )
        conn.autocommit = True  # explicit BEGIN READ ONLY ... ROLLBACK around each statement instead
        cur = conn.cursor()
        try:
            cur.execute(f"SET statement_timeout TO {int(self.query_timeout_s * 1000)}")
            cur.execute("SET timezone TO 'UTC'")
        finally:
            cur.close()
        return conn

    def fold_identifier(self, identifier: str) -> str:
        # Redshift stores identifiers in lowercase (enable_case_sensitive_identifier is off by default),
        # and DMS creates target tables unquoted.
        return identifier.lower()

    def hash_int(self, md5_sql: str) -> str:
        # Redshift has no bit-string casts; STRTOL parses hex. (The local PostgreSQL stand-in gets a test-only
        # STRTOL function, see dmsval/localstack/redshift_functions.sql.)
        return f"STRTOL(SUBSTRING({md5_sql}, 1, 15), 16)"

    def sum_ints(self, int_sql: str) -> str:
        # Redshift's SUM(BIGINT) returns BIGINT and would overflow on 60-bit values; DECIMAL(38,0) does not
        return f"SUM(CAST({int_sql} AS DECIMAL(38,0)))"
