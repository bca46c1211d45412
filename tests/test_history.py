"""Run-to-run history (dmsval.history): new / persisting / resolved differences per table against the previous run
of the task -- unit tests on documents built here, the previous run found locally and in S3 (moto), the section
rendered, version-1 documents still read, and the suite run three times against a Sakila copy whose defects are
repaired and planted between runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dmsval import history, merge
from dmsval import notebook as nb
from dmsval.render import html as html_render
from dmsval.render import sns_text
from dmsval.results import SCHEMA, RunResults, load_results
from devstack import demo
from devstack.provision import delivered_messages

from .conftest import pg_dsn
from .test_suite_e2e import copies, delivery_args, migration  # noqa: F401

TASK_ARN = "arn:aws:dms:eu-west-1:123456789012:task:T"


def _case(case_id: str, status: str = "failed", figures: dict[str, Any] | None = None,
          details: dict[str, Any] | None = None) -> dict[str, Any]:
    check, subject = case_id[:-1].split("[", 1)
    return {"case_id": case_id, "check": check, "subject": subject, "status": status, "message": "",
            "source_table": subject.split("#")[0], "target_table": subject.split("#")[0], "figures": figures or {},
            "sql": {}, "details": details or {}, "duration_s": 0.1, "error": None, "nodeid": None}


def _row_diff(subject: str, missing=(), extra=(), changed=(), figures: dict[str, Any] | None = None,
              **more: Any) -> dict[str, Any]:
    details = {"key": ["id"], "missing_keys": [[k] for k in missing], "extra_keys": [[k] for k in extra],
               "changed": [{"key": [k], "columns": cols} for k, cols in changed], **more}
    counted = {"missing": len(missing), "extra": len(extra), "changed": len(changed), **(figures or {})}
    differs = any(counted.values()) or bool(more.get("row_images"))
    return _case(f"row_diff[{subject}]", "failed" if differs else "passed", counted, details)


def _doc(run_id: str, cases: list[dict[str, Any]], *, masked: bool = False, task: str = "T",
         schema: str = SCHEMA, **run: Any) -> dict[str, Any]:
    started = f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}+00:00"
    document = RunResults.from_dict({"schema": SCHEMA, "cases": cases, "run": {
        "run_id": run_id, "started_at": started, "mode": "full", "values_masked": masked, "shard": None,
        "task": {"arn": f"arn:aws:dms:eu-west-1:123456789012:task:{task}", "identifier": task,
                 "migration_type": "full-load", "replication_instance": "ri"},
        "trigger": {"kind": "manual"}, "source": {"engine_name": "mariadb", "identifier": "src"},
        "target": {"engine_name": "redshift", "identifier": "tgt"}, "tables": 3, "checks": ["row_count", "row_diff"],
        "planned_cases": [c["case_id"] for c in cases], **run}}).to_dict()
    document["schema"] = schema
    return document


R1, R2, R3 = "20261201T100000Z-aaaaaa", "20261202T100000Z-bbbbbb", "20261203T100000Z-cccccc"
EMAIL = {"email": ["a@x.org", "b@x.org"]}


def _three_runs() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Run 1: s.a misses key 1, has extra key 2, row count fails; s.b changes key 3's email.
    Run 2: s.a's extra row repaired (still one missing: row count still fails); s.b unchanged; s.c: key 9 missing.
    Run 3: s.a repaired completely; s.b's key 3 now differs in email and name; s.c unchanged."""
    run1 = _doc(R1, [_case("row_count[s.a]"), _row_diff("s.a", missing=["1"], extra=["2"]),
                     _row_diff("s.b", changed=[("3", EMAIL)]), _row_diff("s.c"),
                     _case("row_count[s.b]", "passed"), _case("row_count[s.c]", "passed")])
    run2 = _doc(R2, [_case("row_count[s.a]"), _row_diff("s.a", missing=["1"]),
                     _row_diff("s.b", changed=[("3", EMAIL)]), _row_diff("s.c", missing=["9"]),
                     _case("row_count[s.b]", "passed"), _case("row_count[s.c]")])
    run3 = _doc(R3, [_case("row_count[s.a]", "passed"), _row_diff("s.a"),
                     _row_diff("s.b", changed=[("3", {**EMAIL, "name": ["x", "y"]})]),
                     _row_diff("s.c", missing=["9"]), _case("row_count[s.b]", "passed"), _case("row_count[s.c]")])
    return run1, run2, run3


def _counts(section: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {t["table"]: (t["new"], t["persisting"], t["resolved"]) for t in section["tables"]}


def test_differences_of_identifies_keys_changes_and_failing_cases():
    run1, _, _ = _three_runs()
    assert history.differences_of(run1) == {
        "s.a": {("row_count", "case", ""), ("row_diff", "missing", '["1"]'), ("row_diff", "extra", '["2"]')},
        "s.b": {("row_diff", "changed", '{"columns":["email"],"key":["3"]}')}}


def test_three_runs_planted_and_repaired_drifts_are_new_persisting_and_resolved():
    run1, run2, run3 = _three_runs()
    second = history.compare(run1, run2)
    assert _counts(second) == {"s.a": (0, 2, 1), "s.b": (0, 1, 0), "s.c": (2, 0, 0)}
    assert second["totals"] == {"new": 2, "persisting": 3, "resolved": 1, "unverified": 0}
    assert second["summary"] == f"2 new, 3 persisting, 1 resolved since {R1} (2026-12-01T10:00:00+00:00)"
    assert second["previous"] == {"run_id": R1, "started_at": "2026-12-01T10:00:00+00:00", "verdict": "failed"}
    by_table = {t["table"]: t for t in second["tables"]}
    assert by_table["s.a"]["samples"]["resolved"] == ["key (2) extra in the target"]
    assert by_table["s.c"]["samples"]["new"] == ["row_count failed", "key (9) missing in the target"]
    assert second["level"] == "rows" and second["notes"] == [] and second["status"] == "compared"

    third = history.compare(run2, run3)
    # key 3 now differs in another column too: a different difference (new) and the old one resolved
    assert _counts(third) == {"s.a": (0, 0, 2), "s.b": (1, 0, 1), "s.c": (0, 2, 0)}
    assert {t["table"]: t["samples"] for t in third["tables"]}["s.b"] == {
        "new": ["key (3) changed: email a@x.org -> b@x.org; name x -> y"],
        "resolved": ["key (3) changed: email a@x.org -> b@x.org"]}
    assert third["summary"].startswith(f"1 new, 2 persisting, 3 resolved since {R2} ")


def test_split_cases_count_for_their_table():
    before = _doc(R1, [_row_diff("s.big#1/2", missing=["4"]), _row_diff("s.big#2/2", extra=["900"])])
    after = _doc(R2, [_row_diff("s.big#1/2"), _row_diff("s.big#2/2", extra=["900", "901"])])
    assert set(history.differences_of(after)) == {"s.big"}
    assert _counts(history.compare(before, after)) == {"s.big": (1, 1, 1)}


def test_keyless_tables_are_compared_by_row_image():
    def images(*rows: dict[str, Any]) -> dict[str, Any]:
        return _row_diff("s.log", multiset=True, columns=["at", "msg"],
                         figures={"differing_row_images": len(rows)},
                         row_images=[{"row": r, "source_count": 2, "target_count": 1} for r in rows])

    first, second = {"at": "2026-01-01", "msg": "hi"}, {"at": "2026-01-02", "msg": None}
    section = history.compare(_doc(R1, [images(first)]), _doc(R2, [images(first, second)]))
    assert _counts(section) == {"s.log": (1, 1, 0)}
    assert section["tables"][0]["samples"]["new"] == ["row (at=2026-01-02, msg=NULL) source 2, target 1 times"]


def test_a_sample_shorter_than_its_count_marks_the_table_sampled():
    listed = [str(k) for k in range(50)]
    before = _doc(R1, [_row_diff("s.big", missing=listed, figures={"missing": 70}), _row_diff("s.small",
                                                                                                missing=["1"])])
    after = _doc(R2, [_row_diff("s.big", missing=listed), _row_diff("s.small", missing=["1"])])
    section = history.compare(before, after)
    assert {t["table"]: t["sampled"] for t in section["tables"]} == {"s.big": True, "s.small": False}
    assert history.sampled_tables(before) == {"s.big"} and history.sampled_tables(after) == set()
    assert any("--diff-sample" in note and "s.big" in note for note in section["notes"])


def test_masked_runs_are_compared_case_by_case_and_hold_no_value():
    masked_keys = {"h:1a2b3c4d5e6f", "h:ffeeddccbbaa"}
    before = _doc(R1, [_row_diff("s.a", missing=["h:1a2b3c4d5e6f"]), _case("row_count[s.a]")], masked=True)
    after = _doc(R2, [_row_diff("s.a", missing=["h:ffeeddccbbaa"]), _case("row_count[s.a]", "passed")],
                 masked=True)
    assert history.differences_of(after) == {"s.a": {("row_diff", "case", "")}}
    section = history.compare(before, after)
    assert section["level"] == "cases" and _counts(section) == {"s.a": (0, 1, 1)}
    assert "--mask-values" in section["notes"][0]
    assert not any(key in json.dumps(section) for key in masked_keys)
    # an unmasked previous run with a masked one: values of neither appear, case level
    plain = _doc(R1, [_row_diff("s.a", missing=["secret-key-7"])])
    mixed = history.compare(plain, after)
    assert mixed["level"] == "cases" and "secret-key-7" not in json.dumps(mixed)


def test_a_difference_whose_check_did_not_run_again_is_unverified_not_resolved():
    before = _doc(R1, [_case("aggregates[s.a]"), _row_diff("s.a", missing=["1"])])
    after = _doc(R2, [_row_diff("s.a", missing=["1"])])  # --checks row_diff this time
    section = history.compare(before, after)
    assert section["totals"] == {"new": 0, "persisting": 1, "resolved": 0, "unverified": 1}
    assert ", 1 not checked again since" in section["summary"]


def test_a_changed_row_a_since_window_did_not_cover_is_unverified_not_resolved():
    before = _doc(R1, [_row_diff("s.a", missing=["1"], changed=[("3", EMAIL)])])
    windowed = _row_diff("s.a")  # --since: rows changed in the window compared, every key checked
    windowed["details"]["window"] = {"since": "2026-12-01T00:00:00+00:00", "column": "last_update"}
    section = history.compare(before, _doc(R2, [windowed]))
    # the missing key was checked again (every key is), the changed row maybe not (outside the window)
    assert section["totals"] == {"new": 0, "persisting": 0, "resolved": 1, "unverified": 1}
    assert "--since window" in " ".join(section["notes"])


def test_version_1_documents_are_still_read(tmp_path: Path):
    v1 = _doc(R1, [_row_diff("s.a", missing=["1"])], schema="dmsval.results/1")
    del v1["run"]["history"]  # version 1 had no such field
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    loaded = load_results(path)
    assert loaded.run.get("history") is None and loaded.to_dict()["schema"] == "dmsval.results/2"
    assert loaded.to_dict()["run"]["history"] is None
    assert merge.load_inputs([path])[0][1]["schema"] == "dmsval.results/1"
    assert merge.merge_documents(merge.load_inputs([path]))["schema"] == SCHEMA
    assert nb.read_results(path)["schema"] == "dmsval.results/1"
    assert "History" not in nb.run_summary(v1).index
    assert _counts(history.compare(v1, _doc(R2, [_row_diff("s.a", missing=["1"])]))) == {"s.a": (0, 1, 0)}
    other = tmp_path / "v0.json"
    other.write_text(json.dumps({**v1, "schema": "dmsval.results/0"}))
    with pytest.raises(merge.MergeError, match="not a dmsval.results/1 document nor a dmsval.results/2 document"):
        merge.load_inputs([other])


def test_previous_run_from_the_local_history_folder(tmp_path: Path):
    run1, run2, run3 = _three_runs()
    reports = tmp_path / "reports"
    assert history.history_for(run1, s3_uri=None, aws=None, reports_dir=reports)["status"] == "first run"
    history.keep_local_copy(run1, reports)
    shard = _doc("20261201T120000Z-dddddd", [_case("row_count[s.z]")], shard="1/2")
    history.keep_local_copy(shard, reports)  # a shard's share is passed over
    history.keep_local_copy(_doc("20261201T130000Z-eeeeee", [], task="U"), reports)  # another task
    history.keep_local_copy(run3, reports)  # later than run 2: not its previous
    assert (reports / "history" / "T" / f"{R1}.json").is_file()
    section = history.history_for(run2, s3_uri=None, aws=None, reports_dir=reports)
    assert section["previous"]["run_id"] == R1 and _counts(section)["s.c"] == (2, 0, 0)
    found = history.find_previous(task_id="T", run_id=R3, reports_dir=reports)
    assert found is not None and found.run_id == R1  # run 2 was never kept
    (reports / "history" / "T" / "20261201T140000Z-ffffff.json").write_text("{not json")
    broken = history.history_for(run2, s3_uri=None, aws=None, reports_dir=reports)
    assert broken["status"] == "error" and "20261201T140000Z-ffffff.json are not JSON" in broken["error"]
    assert broken["summary"].startswith("history unavailable: ")
    # a run started in the same second counts as earlier (the random suffix orders nothing); a later one never
    same, later = "20261201T100000Z-ffffff", "20261201T100001Z-aaaaaa"
    assert history._earlier([same, "20261201T100000Z-000000", later], "20261201T100000Z-000000") == [same]


def test_previous_run_from_s3_and_read_errors_recorded(aws, tmp_path: Path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="hist")  # us-east-1: no location constraint
    run1, run2, run3 = _three_runs()
    uri = "s3://hist/validation"
    assert history.history_for(run2, s3_uri=uri, aws=aws, reports_dir=tmp_path)["status"] == "first run"
    s3.put_object(Bucket="hist", Key=f"validation/T/{R1}/results.json", Body=json.dumps(run1).encode())
    s3.put_object(Bucket="hist", Key=f"validation/T/{R1[:-6]}zzzzzz/report.html", Body=b"<html>")  # no results
    shard = _doc("20261201T120000Z-dddddd", [_case("row_count[s.z]")], shard="2/2")
    s3.put_object(Bucket="hist", Key=f"validation/T/{shard['run']['run_id']}/results.json",
                  Body=json.dumps(shard).encode())
    s3.put_object(Bucket="hist", Key=f"validation/T/{R3}/results.json", Body=json.dumps(run3).encode())
    section = history.history_for(run2, s3_uri=uri, aws=aws, reports_dir=tmp_path)
    assert section["previous"]["run_id"] == R1 and section["totals"]["new"] == 2
    s3.put_object(Bucket="hist", Key="validation/T/20261201T150000Z-abcdef/results.json", Body=b"{corrupt")
    broken = history.history_for(run2, s3_uri=uri, aws=aws, reports_dir=tmp_path)
    assert broken["status"] == "error" and "s3://hist/validation/T/20261201T150000Z-abcdef/results.json" in \
        broken["error"]
    gone = history.history_for(run2, s3_uri="s3://no-such-bucket/x", aws=aws, reports_dir=tmp_path)
    assert gone["status"] == "error" and "NoSuchBucket" in gone["error"]


def test_merge_compares_the_merged_run_with_the_previous_merged_run(tmp_path: Path):
    def shards(a_status: str, b_missing: list[str]) -> list[str]:
        paths = []
        for k, cases in ((1, [_case("row_count[s.a]", a_status)]), (2, [_row_diff("s.b", missing=b_missing)])):
            document = _doc(f"20261201T10000{k}Z-aaaaaa", cases, shard=f"{k}/2")
            document["run"]["run_cases"] = ["row_count[s.a]", "row_diff[s.b]"]
            path = tmp_path / f"shard{k}-{a_status}.json"
            path.write_text(json.dumps(document))
            paths.append(str(path))
        return paths

    out = tmp_path / "merged"
    assert merge.main([*shards("failed", ["1"]), "--reports-dir", str(out)]) == merge.EXIT_FAILED
    first = json.loads((out / "results.json").read_text())
    assert first["run"]["history"]["status"] == "first run"  # the shards' own documents are not a previous run
    assert merge.main([*shards("passed", ["1", "2"]), "--reports-dir", str(out)]) == merge.EXIT_FAILED
    second = json.loads((out / "results.json").read_text())
    section = second["run"]["history"]
    assert section["previous"]["run_id"] == first["run"]["run_id"]
    assert _counts(section) == {"s.a": (0, 0, 1), "s.b": (1, 1, 0)}
    assert section["summary"] in (out / "report.html").read_text()
    kept = sorted(p.name for p in (out / "history" / "T").iterdir())
    assert kept == sorted(f"{d['run']['run_id']}.json" for d in (first, second))
    assert merge.main([*shards("failed", ["1"]), "--reports-dir", str(out), "--no-history"]) == merge.EXIT_FAILED
    assert json.loads((out / "results.json").read_text())["run"]["history"] is None


def test_renderers_show_the_sentence_and_the_per_table_counts():
    run1, run2, _ = _three_runs()
    run2["run"]["history"] = history.compare(run1, run2)
    sentence = run2["run"]["history"]["summary"]
    block = html_render.history_block(run2["run"]["history"])
    assert f"<b>History</b>: {sentence}" in block
    assert "<tr><td>s.c</td><td>2</td><td>0</td><td>0</td>" in block
    assert html_render.history_block(None) == ""
    body = sns_text.body(run2)
    assert f"\nHistory:   {sentence}\n" in body
    assert sns_text.body(run1).count("History:") == 0  # no history computed: no line
    assert nb.run_summary(run2).loc["History", "value"] == sentence


# -- end to end: the suite, three runs of one task, history read back from S3 -------------------------------
def test_three_suite_runs_report_new_persisting_and_resolved(migration, run_suite, aws):
    m = migration("history", demo.PLANTED_SQL)  # rental 4242 missing, payment 30000 extra, customer 7 changed
    checks = ("--checks", "row_count,row_diff")

    def change(*statements: str) -> None:
        with psycopg.connect(pg_dsn(m.database)) as conn:
            for statement in statements:
                conn.execute(statement)

    with psycopg.connect(pg_dsn(m.database)) as conn:
        city = conn.execute("SELECT city FROM sakila.city WHERE city_id = 10").fetchone()[0]

    try:
        first = run_suite(*checks, *delivery_args(m), event=m.event)
        assert first.returncode == 1, first.stdout[-3000:]
        assert first.results["run"]["history"]["status"] == "first run"
        change("UPDATE sakila.customer SET email = 'MARIA.MILLER@sakilacustomer.org' WHERE customer_id = 7",
               "UPDATE sakila.actor SET last_name = 'DRIFTED' WHERE actor_id = 5")
        second = run_suite(*checks, *delivery_args(m), event=m.event)
        assert _counts(second.results["run"]["history"]) == {
            "sakila.actor": (1, 0, 0), "sakila.customer": (0, 0, 1), "sakila.payment": (0, 2, 0),
            "sakila.rental": (0, 2, 0)}
        change("DELETE FROM sakila.payment WHERE payment_id = 30000",
               "UPDATE sakila.city SET city = 'Nowhere' WHERE city_id = 10")
        third = run_suite(*checks, *delivery_args(m), event=m.event)
    finally:  # the copy is shared by name within the session: put it back as made
        change("UPDATE sakila.actor SET last_name = 'LOLLOBRIGIDA' WHERE actor_id = 5",
               f"UPDATE sakila.city SET city = '{city}' WHERE city_id = 10",
               "UPDATE sakila.customer SET email = 'changed@example.com' WHERE customer_id = 7",
               "DELETE FROM sakila.payment WHERE payment_id = 30000", demo.PLANTED_SQL[1])
    section = third.results["run"]["history"]
    run1, run2 = first.results["run"], second.results["run"]
    assert second.results["run"]["history"]["previous"]["run_id"] == run1["run_id"]
    assert section["previous"] == {"run_id": run2["run_id"], "started_at": run2["started_at"], "verdict": "failed"}
    assert _counts(section) == {"sakila.actor": (0, 1, 0), "sakila.city": (1, 0, 0),
                                "sakila.payment": (0, 0, 2), "sakila.rental": (0, 2, 0)}
    sentence = f"1 new, 3 persisting, 2 resolved since {run2['run_id']} ({run2['started_at']})"
    assert section["summary"] == sentence
    by_table = {t["table"]: t["samples"] for t in section["tables"]}
    assert by_table["sakila.city"]["new"] == [f"key (10) changed: city {city} -> Nowhere"]
    assert by_table["sakila.payment"]["resolved"] == ["row_count failed", "key (30000) extra in the target"]
    # the HTML header and the SNS message of run 3 say it; each run also kept its local copy
    assert sentence in (third.reports / "report.html").read_text()
    messages = delivered_messages(aws, m.made.queue_url)
    assert len(messages) == 3 and sum(f"\nHistory:   {sentence}\n" in msg["Message"] for msg in messages) == 1
    kept = third.reports / "history" / "task-history" / f"{third.results['run']['run_id']}.json"
    assert json.loads(kept.read_text())["run"]["history"]["summary"] == sentence

    # --no-history: no section, the local copy still kept; a shard neither compares nor keeps a copy
    off = run_suite("--checks", "dms_state", "--no-history", event=m.event)
    assert off.results["run"]["history"] is None
    assert (off.reports / "history" / "task-history" / f"{off.results['run']['run_id']}.json").is_file()
    shard = run_suite("--checks", "dms_state", "--shard", "1/2", event=m.event)
    assert shard.results["run"]["shard"] == "1/2" and shard.results["run"]["history"] is None
    assert not (shard.reports / "history").exists()
