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
class Attempt:
    """What one delivery channel did: ``delivered``, ``failed`` or ``not configured`` (with where and why)."""

    status: str
    target: str | None = None  # s3://bucket/prefix/.../ or the topic ARN
    detail: str | None = None  # the error, or what was delivered (keys, message id)
    link: str | None = None  # presigned report link (S3 only)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "target": self.target, "detail": self.detail, "link": self.link}


NOT_CONFIGURED = Attempt("not configured")


@dataclass(frozen=True)
class Delivery:
    """Both channels, attempted independently: an S3 failure never suppresses the SNS message."""

    s3: Attempt = NOT_CONFIGURED
    sns: Attempt = NOT_CONFIGURED

    @property
    def failed(self) -> bool:
        return "failed" in (self.s3.status, self.sns.status)

    def to_dict(self) -> dict[str, Any]:
        return {"s3": self.s3.to_dict(), "sns": self.sns.to_dict()}

    def lines(self, kept_in: Path) -> list[tuple[bool, str]]:
        """(failed, text) per attempted channel, for the console of a run or a merge."""
        out = []
        for channel, attempt in (("S3 upload", self.s3), ("SNS summary", self.sns)):
            if attempt.status == "delivered":
                out.append((False, f"{channel} delivered to {attempt.target} ({attempt.detail})"))
            elif attempt.status == "failed":
                out.append((True, f"DELIVERY FAILED: {channel}: {attempt.detail} (local files kept in {kept_in})"))
        return out


def deliver(aws: AwsContext, document: dict[str, Any], files: list[Path], *, s3_uri: str | None,
            topic_arn: str | None, task_id: str, run_id: str, report: Path | None,
            presign_expiry: int = 604800) -> Delivery:
    """Upload ``files`` and publish the summary of ``document``; each channel is tried whatever the other did.

    The one delivery path of a run and of a merge. The SNS message says where the report is: the S3 copy with a
    presigned link, or, when the upload failed or none is configured, the local path and why.
    """
    s3 = NOT_CONFIGURED
    if s3_uri:
        try:
            location, keys = upload(aws, s3_uri, task_id, run_id, [f for f in files if f.is_file()])
            link = None
            if report is not None and report.name in {k.rsplit("/", 1)[-1] for k in keys}:
                link = presigned_link(aws, location + report.name, presign_expiry)
            s3 = Attempt("delivered", location, f"{len(keys)} files", link)
        except DeliveryError as e:
            s3 = Attempt("failed", s3_uri, str(e))
    sns = NOT_CONFIGURED
    if topic_arn:
        local = str(report) if report is not None else None
        if s3.status == "delivered":
            where, note = (s3.target + report.name if report is not None and s3.target else s3.target), None
        elif s3.status == "failed":
            where, note = local, f"the S3 upload failed ({s3.detail}); the files are kept on the build host"
        else:
            where, note = local, None
        try:
            message_id = publish(aws, topic_arn, document, where, s3.link, delivery_note=note)
            sns = Attempt("delivered", topic_arn, f"message {message_id}")
        except DeliveryError as e:
            sns = Attempt("failed", topic_arn, str(e))
    return Delivery(s3, sns)


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
            report_link: str | None = None, delivery_note: str | None = None) -> str:
    run = results["run"]
    try:
        response = aws.client("sns").publish(
            TopicArn=topic_arn,
            Subject=sns_text.subject(results),
            Message=sns_text.body(results, report_location, report_link, delivery_note),
            MessageAttributes={
                "verdict": {"DataType": "String", "StringValue": run["verdict"]},
                "task": {"DataType": "String", "StringValue": run["task"]["identifier"]},
            },
        )
    except AWS_ERRORS as e:
        raise DeliveryError(f"publish to {topic_arn} failed: {error_code(e)}") from e
    return str(response["MessageId"])
