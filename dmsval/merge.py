"""Merge several results JSON files (shards of one run, parallel jobs) into one run: results JSON, HTML report,
optional S3 upload and one SNS summary.

    python -m dmsval.merge FILES... [--reports-dir DIR] [--sns-topic-arn ARN] [--s3-uri URI]
                                    [--aws-endpoint-url URL] [--aws-region REGION]

The merged document has the current schema (``dmsval.results/2``; inputs may be ``dmsval.results/1``): the cases of every input concatenated (a case id
present in two inputs is an error naming it), run metadata from the first input with ``counts`` and ``verdict``
recomputed, a new ``run_id`` (the merged files get their own S3 folder and never overwrite an input's), the
earliest ``started_at`` and latest ``finished_at``, the union of ``checks``, and ``merged_from`` listing the
inputs (``path``, ``run_id``, ``shard``, ``checks``, ``verdict``, ``counts``, ``cases``). Every input must be
about the same DMS task. ``run.history`` compares the merged run with the previous run of the task (shards do not
compute it; ``--no-history`` leaves it null), found in S3 with ``--s3-uri``, else in ``<reports-dir>/history/``,
where every merged document is also kept.

The verdict rule of a single run applies: a planned case that ran in no given input (a shard not given, a shard
that was itself incomplete) makes the merged verdict ``incomplete``. S3 and SNS are delivered by the same code as
a run's (``dmsval.aws.delivery.deliver``): each attempted independently, the outcome recorded in the merged
results.json, the SNS message with a presigned link to the merged report.

Exit status: 0 when the merged verdict is passed or skipped, 1 when it is failed, error or incomplete or delivery
failed, 4 for a usage error (unreadable or malformed input, another schema, duplicate case ids, inputs about
different tasks, shards that planned different runs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import history
from .aws import delivery
from .aws.clients import aws_context_for
from .errors import ConfigError
from .render import summary
from .results import READABLE_SCHEMAS, SCHEMA, RunResults, not_readable, write_json_atomically
from .run import new_run_id

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 4
MAX_LISTED = 20  # duplicate case ids named in the error before "and N more"


class MergeError(ConfigError):
    """The inputs cannot be merged (the message says which file or case id)."""


def load_inputs(paths: Sequence[str | Path]) -> list[tuple[str, dict[str, Any]]]:
    if not paths:
        raise MergeError("no results file given")
    documents = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise MergeError(f"cannot read {path}: {e.strerror or e}") from e
        except json.JSONDecodeError as e:
            raise MergeError(f"{path} is not JSON ({e.msg} at line {e.lineno})") from e
        if not isinstance(document, dict) or document.get("schema") not in READABLE_SCHEMAS:
            found = document.get("schema") if isinstance(document, dict) else type(document).__name__
            raise MergeError(f"{path} is {not_readable()} (schema={found!r})")
        _check_shape(str(path), document)
        documents.append((str(path), document))
    return documents


def _check_shape(path: str, document: dict[str, Any]) -> None:
    """What merging reads must be there: a clear error naming the file, never a KeyError."""
    run, cases = document.get("run"), document.get("cases")
    if not isinstance(run, dict):
        raise MergeError(f"{path} has no 'run' object (is it a complete results.json?)")
    if not isinstance(cases, list) or not all(isinstance(c, dict) and "case_id" in c and "status" in c
                                              for c in cases):
        raise MergeError(f"{path} has no 'cases' list of case results")
    task = run.get("task")
    if not isinstance(task, dict) or not task.get("arn") or not task.get("identifier"):
        raise MergeError(f"{path}: run.task must name the task (arn and identifier)")
    for key in ("run_id", "started_at"):
        if not run.get(key):
            raise MergeError(f"{path}: run.{key} is missing")


def merge_documents(inputs: Sequence[tuple[str, dict[str, Any]]], now: datetime | None = None) -> dict[str, Any]:
    """One results document from several; raises MergeError for duplicate case ids or different tasks."""
    if not inputs:
        raise MergeError("no results to merge")
    given = [str(Path(path).resolve()) for path, _ in inputs]
    twice = sorted({p for p in given if given.count(p) > 1})
    if twice:
        raise MergeError(f"the same file is given more than once: {', '.join(twice)}")
    first_run = inputs[0][1]["run"]
    task_arn = first_run["task"]["arn"]
    seen: dict[str, str] = {}
    duplicates: dict[str, list[str]] = {}
    cases: list[dict[str, Any]] = []
    for path, document in inputs:
        arn = document["run"]["task"]["arn"]
        if arn != task_arn:
            raise MergeError(f"{path} is about task {arn}, {inputs[0][0]} about {task_arn}: "
                             "merge results of one task only")
        for case in document["cases"]:
            case_id = case["case_id"]
            if case_id in seen:
                duplicates.setdefault(case_id, [seen[case_id]]).append(path)
            else:
                seen[case_id] = path
            cases.append(case)
    if duplicates:
        shown = sorted(duplicates.items())[:MAX_LISTED]
        listed = "; ".join(f"{case_id} (in {', '.join(paths)})" for case_id, paths in shown)
        more = f"; ... and {len(duplicates) - MAX_LISTED} more" if len(duplicates) > MAX_LISTED else ""
        raise MergeError(f"{len(duplicates)} duplicate case id(s): {listed}{more}")

    runs = [document["run"] for _, document in inputs]
    planned, reasons = _planned(inputs, set(seen))
    started = min((r["started_at"] for r in runs if r.get("started_at")), default=first_run.get("started_at"))
    finished = max((r["finished_at"] for r in runs if r.get("finished_at")), default=None)
    checks = sorted({c for r in runs for c in r.get("checks") or []})
    now = now or datetime.now(timezone.utc)
    run = dict(first_run)
    run.update(
        run_id=new_run_id(now), started_at=started, finished_at=finished, checks=checks,
        tables=max((r.get("tables") or 0) for r in runs),
        duration_s=_span_s(started, finished), shard=None, merged_at=now.isoformat(timespec="seconds"),
        planned_cases=planned, incomplete_reasons=reasons, delivery=None, error=_first_error(runs), history=None,
        merged_from=[{"path": path, "run_id": r.get("run_id"), "shard": r.get("shard"),
                      "checks": list(r.get("checks") or []), "verdict": r.get("verdict"), "counts": r.get("counts"),
                      "cases": len(document["cases"])}
                     for (path, document), r in zip(inputs, runs)],
    )
    merged = RunResults.from_dict({"schema": SCHEMA, "run": run, "cases": cases})
    ordered = RunResults(run=merged.run, cases=tuple(sorted(merged.cases, key=lambda c: c.case_id)))
    return ordered.to_dict()  # counts and verdict recomputed from the cases


def _planned(inputs: Sequence[tuple[str, dict[str, Any]]], merged_ids: set[str]) -> tuple[list[str] | None,
                                                                                         list[str]]:
    """The merged run's planned cases and why some did not run (the verdict rule of a single run applies).

    Shards record the whole run (``run_cases``; older shards: ``planned_cases``): they must agree on it -- each
    shard plans on its own, and a case planned differently could run in no shard -- else MergeError. A planned
    case that ran in no given shard makes the merged run incomplete. Independent runs: the union of their plans.
    """
    runs = [(path, document["run"]) for path, document in inputs]
    sharded = [r.get("shard") for _, r in runs]
    reasons = [reason for _, r in runs for reason in r.get("incomplete_reasons") or []]
    if all(sharded):
        whole = [(path, r.get("run_cases", r.get("planned_cases"))) for path, r in runs]
        if any(cases is None for _, cases in whole):
            return None, reasons  # shards of an old version: nothing to reconcile
        first_path, first = whole[0]
        for path, cases in whole[1:]:
            if set(cases) != set(first):
                raise MergeError(f"{path} and {first_path} planned different cases (shards must plan the same "
                                 f"run): {', '.join(sorted(set(cases) ^ set(first))[:MAX_LISTED])}")
        missing = set(first) - merged_ids
        if missing:
            reasons.append(f"{len(missing)} planned case(s) ran in no given shard (shards given: "
                           f"{', '.join(sorted(str(s) for s in sharded))})")
        return sorted(first), reasons
    plans = [r.get("planned_cases") for _, r in runs]
    if any(p is None for p in plans):
        return None, reasons  # an input of an old version: what it planned is unknown
    return sorted({c for p in plans for c in p}), reasons


def _first_error(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((r["error"] for r in runs if r.get("error")), None)


def _span_s(started: str | None, finished: str | None) -> float | None:
    if not started or not finished:
        return None
    try:
        return round((datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds(), 3)
    except ValueError:
        return None


def write_outputs(document: dict[str, Any], reports_dir: Path) -> tuple[Path, Path]:
    """results.json (atomically) and the self-contained report.html, in ``reports_dir``."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    report = reports_dir / REPORT_FILE
    document["run"]["reports"] = {"html": str(report), "junit": None}
    results_path = write_json_atomically(document, reports_dir / RESULTS_FILE)
    tmp = report.with_name(f".{report.name}.tmp")
    tmp.write_text(summary.page(document, title="DMS validation report (merged)"), encoding="utf-8")
    os.replace(tmp, report)
    return results_path, report


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m dmsval.merge", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILES", help="results JSON files to merge")
    parser.add_argument("--reports-dir", default="reports/merged",
                        help="where the merged results.json and report.html go (default reports/merged)")
    parser.add_argument("--s3-uri", default=env("DMSVAL_S3_URI", ""),
                        help="upload to s3://bucket/prefix/<task-id>/<merged-run-id>/ (env DMSVAL_S3_URI)")
    parser.add_argument("--sns-topic-arn", default=env("DMSVAL_SNS_TOPIC_ARN", ""),
                        help="publish one summary of the merged run (env DMSVAL_SNS_TOPIC_ARN)")
    parser.add_argument("--aws-endpoint-url", default=env("DMSVAL_AWS_ENDPOINT_URL"),
                        help="endpoint URL for every AWS client, e.g. moto (env DMSVAL_AWS_ENDPOINT_URL)")
    parser.add_argument("--aws-region", default=env("DMSVAL_AWS_REGION"),
                        help="AWS region (default: the task ARN's) (env DMSVAL_AWS_REGION)")
    parser.add_argument("--no-history", action="store_true",
                        default=(env("DMSVAL_NO_HISTORY") or "").strip().lower() in ("1", "true", "yes", "on"),
                        help="do not compare with the previous run of the task (env DMSVAL_NO_HISTORY)")
    parser.add_argument("--presign-expiry", type=int, default=int(env("DMSVAL_PRESIGN_EXPIRY") or 604800),
                        help="seconds the SNS message's presigned report link stays valid (default and max 604800)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.s3_uri and not args.s3_uri.startswith("s3://"):
        print(f"dmsval merge: --s3-uri must look like s3://bucket/prefix, not {args.s3_uri!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        document = merge_documents(load_inputs(args.files))
    except MergeError as e:
        print(f"dmsval merge: {e}", file=sys.stderr)
        return EXIT_USAGE
    run = document["run"]
    aws = aws_context_for(run["task"]["arn"], args.aws_region, args.aws_endpoint_url)
    if not args.no_history:
        run["history"] = history.history_for(document, s3_uri=args.s3_uri.rstrip("/"), aws=aws,
                                             reports_dir=Path(args.reports_dir))
    results_path, report = write_outputs(document, Path(args.reports_dir))
    history.keep_local_copy(document, Path(args.reports_dir))  # after results.json, before any upload
    counts, verdict = run["counts"], run["verdict"]
    print(f"dmsval merge {verdict.upper()}: {counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['skipped']} skipped, {counts['error']} errors from {len(args.files)} files; "
          f"results JSON: {results_path}; report: {report}")
    outcome = delivery.Delivery()
    if args.s3_uri or args.sns_topic_arn:
        outcome = delivery.deliver(aws, document, [report, results_path], s3_uri=args.s3_uri.rstrip("/"),
                                   topic_arn=args.sns_topic_arn, task_id=run["task"]["identifier"],
                                   run_id=run["run_id"], report=report, presign_expiry=args.presign_expiry)
        for failed, text in outcome.lines(results_path.parent):
            print(f"dmsval merge{' ' if failed else ': '}{text}", file=sys.stderr if failed else sys.stdout)
        run["delivery"] = outcome.to_dict()
        write_outputs(document, Path(args.reports_dir))  # the local copies record what delivery did
    return EXIT_OK if verdict in ("passed", "skipped") and not outcome.failed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
