"""One place that builds boto3 clients, so every client honours --aws-endpoint-url and the region."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import ConfigError

# Errors that mean "AWS said no" or "AWS could not be reached": wrapped by callers into DmsvalErrors.
AWS_ERRORS = (ClientError, BotoCoreError)

_RETRY_CONFIG = botocore.config.Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10,
                                       read_timeout=60)


@dataclass(frozen=True)
class AwsContext:
    """Where AWS calls go: region (None = boto3's default chain) and an optional endpoint URL (moto)."""

    region: str | None = None
    endpoint_url: str | None = None

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client; ``config`` adds botocore Config settings (e.g. signature_version)."""
        session = boto3.session.Session(region_name=self.region)
        if session.region_name is None:
            raise ConfigError(
                "no AWS region: pass --aws-region, set AWS_REGION / AWS_DEFAULT_REGION, or give a task ARN"
            )
        merged = _RETRY_CONFIG.merge(botocore.config.Config(**config)) if config else _RETRY_CONFIG
        return session.client(service, endpoint_url=self.endpoint_url or None, config=merged)

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "endpoint_url": self.endpoint_url}


def region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None


def aws_context_for(arn: str | None, region: str | None = None, endpoint_url: str | None = None) -> AwsContext:
    """The one rule for where AWS calls go: the region given (--aws-region / DMSVAL_AWS_REGION), else the ARN's
    region, else None (boto3's default chain); an empty endpoint URL means none."""
    return AwsContext(region=region or (region_of_arn(arn) if arn else None) or None,
                      endpoint_url=endpoint_url or None)


def error_code(error: BaseException) -> str:
    """The AWS error code of a ClientError, else the exception's class name (for messages)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
