"""The small error hierarchy of dmsval.

Every error a user can act on is a ``DmsvalError``; driver and boto errors are wrapped with
``raise ... from e`` so the cause stays visible in tracebacks while the message names what to fix.
Messages never contain secrets (passwords, secret values): only identifiers such as a secret's id.
"""

from __future__ import annotations


class DmsvalError(Exception):
    """Base class: a problem the user can act on, with a message that says what to fix.

    ``usage`` tells the two kinds apart: True for what the user typed (options, the event, a task that does not
    exist) -- exit 4, nothing to report; False for what went wrong once the invocation was valid (secrets,
    logins, databases, AWS) -- a run with verdict ``error``, reported and notified, exit 1.
    """

    usage: bool = False


class ConfigError(DmsvalError):
    """An option, ini value or environment variable is missing or malformed."""

    usage = True


class EventError(DmsvalError):
    """The DMS event given to the run is malformed or names no task."""

    usage = True


class EventIgnored(DmsvalError):
    """A well-formed event that does not call for validation (e.g. REPLICATION_TASK_STARTED)."""


class ResolutionError(DmsvalError):
    """The task, its endpoints or its table mappings could not be resolved from AWS."""


class TaskNotFound(ResolutionError):
    """The task ARN the user gave names no DMS task in this account and region."""

    usage = True


class SecretError(DmsvalError):
    """A credential could not be read from Secrets Manager or the environment."""


class MappingError(DmsvalError):
    """A TableMappings rule is invalid or unsupported; the message names its rule-id."""


class EngineError(DmsvalError):
    """A database could not be reached or a query failed."""


class QueryTimeout(EngineError):
    """A query ran past --query-timeout; it was stopped on the server too."""


class ConnectionLost(EngineError):
    """The server closed the connection while a query ran (killed session, restart, network)."""


class LatencyGateError(DmsvalError):
    """CloudWatch could not be read for the CDC latency gate."""


class DeliveryError(DmsvalError):
    """Uploading reports to S3 or publishing to SNS failed; local files are kept."""
