"""CodeBuild batch glue for the fan-out variant (infra/buildspec-fanout.yml).

The builds of a CodeBuild batch share no file system, and an EventBridge rule can only start a *plain* build
(StartBuild), never a batch. So:

1. ``dispatch``: the plain build that EventBridge starts (buildspec infra/buildspec-fanout.yml, its phases) starts
   a batch of the same project and source commit (StartBuildBatch), forwarding DMS_EVENT / DMSVAL_TASK_ARN /
   DMSVAL_MODE and a fan-out key unique to this dispatch (its own build id);
2. each shard build runs ``pytest tests_validation --shard K/N --reports-dir reports/shard-K`` without S3/SNS
   delivery, then ``push``: its results.json goes to ``<DMSVAL_S3_URI>/fanout/<key>/shard-K/results.json``;
3. the merge build (after every shard) ``pull``-s them back to ``reports/shard-K/results.json`` and runs
   ``python -m dmsval.merge``, which writes, uploads and publishes the one combined result.

Every AWS call honours DMSVAL_AWS_ENDPOINT_URL and DMSVAL_AWS_REGION (so the glue runs against moto locally).

    python -m dmsval.deploy.fanout dispatch
    python -m dmsval.deploy.fanout push --shard 2/3 --reports-dir reports/shard-2
    python -m dmsval.deploy.fanout pull --shards 3 --reports-dir reports
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..aws.clients import AWS_ERRORS, AwsContext, aws_context_for, error_code
from ..errors import DmsvalError

BATCH_BUILDSPEC = "infra/buildspec-fanout.yml"
FORWARDED = ("DMS_EVENT", "DMSVAL_TASK_ARN", "DMSVAL_MODE")
KEY_VARIABLE = "DMSVAL_FANOUT_KEY"


class FanoutError(RuntimeError):
    pass


def aws_context(environ: Mapping[str, str]) -> AwsContext:
    region = environ.get("DMSVAL_AWS_REGION") or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    # no ARN here: CodeBuild and the S3 bucket live where the build runs, not necessarily in the task's region
    return aws_context_for(None, region, environ.get("DMSVAL_AWS_ENDPOINT_URL"))


def _require(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name)
    if not value:
        raise FanoutError(f"environment variable {name} is not set")
    return value


def parse_shard(value: str) -> tuple[int, int]:
    k, sep, n = value.partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n):
        raise FanoutError(f"shard {value!r} must be K/N with 1 <= K <= N")
    return int(k), int(n)


def shard_object(environ: Mapping[str, str], shard: int) -> tuple[str, str]:
    """(bucket, key) where shard K of this fan-out keeps its results.json."""
    uri = _require(environ, "DMSVAL_S3_URI")
    if not uri.startswith("s3://"):
        raise FanoutError(f"DMSVAL_S3_URI {uri!r} must look like s3://bucket/prefix")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    key = "/".join(p for p in (prefix.strip("/"), "fanout", _require(environ, KEY_VARIABLE),
                                f"shard-{shard}", "results.json") if p)
    return bucket, key


def dispatch(environ: Mapping[str, str], client: Any | None = None) -> str:
    """Start the shard/merge batch for this build's trigger; return the batch id."""
    build_id = _require(environ, "CODEBUILD_BUILD_ID")
    project, _, build_uuid = build_id.partition(":")
    if not build_uuid:
        raise FanoutError(f"CODEBUILD_BUILD_ID {build_id!r} is not <project>:<id>")
    overrides = [{"name": name, "value": environ[name], "type": "PLAINTEXT"} for name in FORWARDED
                 if environ.get(name)]
    overrides.append({"name": KEY_VARIABLE, "value": build_uuid, "type": "PLAINTEXT"})
    request: dict[str, Any] = {"projectName": project, "buildspecOverride": BATCH_BUILDSPEC,
                               "environmentVariablesOverride": overrides}
    if environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION"):
        request["sourceVersion"] = environ["CODEBUILD_RESOLVED_SOURCE_VERSION"]
    client = client or aws_context(environ).client("codebuild")
    try:
        batch = client.start_build_batch(**request)["buildBatch"]
    except AWS_ERRORS as e:
        raise FanoutError(f"start_build_batch for project {project} failed: {error_code(e)}") from e
    return str(batch["id"])


def push(environ: Mapping[str, str], shard: str, reports_dir: str | Path) -> str:
    """Upload this shard's results.json; return its s3:// location."""
    k, _ = parse_shard(shard)
    path = Path(reports_dir) / "results.json"
    if not path.is_file():
        raise FanoutError(f"shard {shard}: {path} does not exist (the suite wrote no results)")
    bucket, key = shard_object(environ, k)
    try:
        aws_context(environ).client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes(),
                                                     ContentType="application/json")
    except AWS_ERRORS as e:
        raise FanoutError(f"upload of {path} to s3://{bucket}/{key} failed: {error_code(e)}") from e
    return f"s3://{bucket}/{key}"


def pull(environ: Mapping[str, str], shards: int, reports_dir: str | Path) -> list[Path]:
    """Download every shard's results.json to <reports_dir>/shard-K/results.json (all of them, or fail)."""
    if shards < 1:
        raise FanoutError(f"--shards must be at least 1, got {shards}")
    shard_object(environ, 1)  # the configuration is complete before any call
    client = aws_context(environ).client("s3")
    written = []
    for k in range(1, shards + 1):
        bucket, key = shard_object(environ, k)
        try:
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except AWS_ERRORS as e:
            raise FanoutError(f"shard {k}/{shards}: s3://{bucket}/{key} could not be read ({error_code(e)}); "
                              f"did that shard build run?") from e
        target = Path(reports_dir) / f"shard-{k}" / "results.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = dict(os.environ) if environ is None else environ
    parser = argparse.ArgumentParser(prog="python -m dmsval.deploy.fanout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dispatch", help="start the shard/merge batch (in the build EventBridge started)")
    push_parser = commands.add_parser("push", help="upload this shard's results.json")
    push_parser.add_argument("--shard", required=True, help="K/N")
    push_parser.add_argument("--reports-dir", required=True)
    pull_parser = commands.add_parser("pull", help="download every shard's results.json")
    pull_parser.add_argument("--shards", required=True, type=int)
    pull_parser.add_argument("--reports-dir", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "dispatch":
            print(f"dmsval fanout: started batch {dispatch(environ)}")
        elif args.command == "push":
            print(f"dmsval fanout: shard {args.shard} results at {push(environ, args.shard, args.reports_dir)}")
        else:
            for path in pull(environ, args.shards, args.reports_dir):
                print(f"dmsval fanout: {path}")
    except (FanoutError, DmsvalError) as e:
        print(f"dmsval fanout: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
