"""Upload the run's files to S3 and publish its summary to SNS (after they are written locally)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeliveryError
from ..render import sns_text
from .clients import AWS_ERRORS, AwsContext, error_code

_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml", ".json": "application/json",
                  ".png": "image/png"}


@dataclass(frozen=True)
class Delivery:
    s3_location: str | None
    uploaded: tuple[str, ...]
    sns_message_id: str | None


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise DeliveryError(f"S3 URI {uri!r} names no bucket")
    return bucket, prefix.strip("/")


def upload(aws: AwsContext, s3_uri: str, task_id: str, run_id: str, files: list[Path]) -> tuple[str, list[str]]:
    """Put each file under s3://bucket/prefix/<task-id>/<run-id>/ and return (location, keys)."""
    bucket, prefix = split_s3_uri(s3_uri)
    base = "/".join(p for p in (prefix, task_id, run_id) if p)
    client = aws.client("s3")
    keys = []
    for path in files:
        key = f"{base}/{path.name}"
        try:
            # put_object rather than upload_file: report files are small, and its errors are plain ClientErrors
            with path.open("rb") as body:
                client.put_object(Bucket=bucket, Key=key, Body=body,
                                  ContentType=_CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
        except AWS_ERRORS as e:
            raise DeliveryError(f"upload of {path.name} to s3://{bucket}/{key} failed: {error_code(e)}") from e
        except OSError as e:
            raise DeliveryError(f"upload of {path} failed: {e}") from e
        keys.append(key)
    return f"s3://{bucket}/{base}/", keys


def presigned_link(aws: AwsContext, s3_location: str, expiry_s: int) -> str:
    """A presigned HTTPS GET link to an uploaded report (readers need no AWS credentials until it expires)."""
    bucket, key = split_s3_uri(s3_location)
    try:
        # SigV4: the only signature S3 accepts in newer regions, and the one whose expiry can reach 7 days
        return str(aws.client("s3", signature_version="s3v4").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                                          ExpiresIn=expiry_s))
    except AWS_ERRORS as e:
        raise DeliveryError(f"cannot presign {s3_location}: {error_code(e)}") from e


def publish(aws: AwsContext, topic_arn: str, results: dict[str, Any], report_location: str | None,
            report_link: str | None = None) -> str:
    run = results["run"]
    try:
        response = aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=sns_text.subject(results),
            Message=sns_text.body(results, report_location, report_link),
            MessageAttributes={
                "verdict": {"DataType": "String", "StringValue": run["verdict"]},
                "task": {"DataType": "String", "StringValue": run["task"]["identifier"]},
            },
        )
    except AWS_ERRORS as e:
        raise DeliveryError(f"publish to {topic_arn} failed: {error_code(e)}") from e
    return str(response["MessageId"])
