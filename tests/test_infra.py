"""The deployment: infra/template.yaml (CloudFormation), buildspec.yml and the fan-out buildspecs.

* the template passes cfn-lint, and its IAM is least privilege (exact action sets, scoped resources);
* a real-format DMS event goes through the template's EventPattern and InputTransformer in moto's EventBridge,
  comes out as a valid CodeBuild StartBuild request, and its DMS_EVENT runs the suite green;
* buildspec.yml's build commands, run locally as CodeBuild runs them, validate a clean migration end to end;
* the fan-out shards hand their results to the merge build through S3.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import botocore.validate
import pytest
import yaml
from botocore.stub import Stubber

from dmsval.aws.clients import AwsContext
from dmsval.deploy import fanout
from dmsval.deploy.buildspec_runner import BuildspecError, load_buildspec, planned_commands, run_buildspec
from dmsval.events import stopped_event
from devstack import demo
from devstack.provision import (DbEndpoint, Provisioned, delivered_messages, ensure_mysql_reader,
                                         provision)

from .conftest import REPO, create_pg_database, pg_dsn

TEMPLATE = REPO / "infra" / "template.yaml"
BUILDSPEC = REPO / "buildspec.yml"
FANOUT = REPO / "infra" / "buildspec-fanout.yml"
PASSWORD = "infra-Secret-Value-7"
READER = "dmsval_infra_reader"
SAKILA_TABLES = 15  # 16 tables less film_text, excluded by the demo task's mapping
STUB_ENV, STUB_PLUGIN = "DMSVAL_STUB_TABLE_STATISTICS", "devstack.stub_statistics"


# --- reading the template ---------------------------------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !Sub, !GetAtt ...) into their long form."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _short_tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)


NO_VALUE = object()


def resolve(node: Any, conditions: dict[str, bool]) -> Any:
    """Evaluate Fn::If with the given conditions and drop AWS::NoValue (everything else is kept as written)."""
    if isinstance(node, dict):
        if list(node) == ["Fn::If"]:
            name, when_true, when_false = node["Fn::If"]
            return resolve(when_true if conditions[name] else when_false, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        resolved = {k: resolve(v, conditions) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}
    if isinstance(node, list):
        return [v for v in (resolve(item, conditions) for item in node) if v is not NO_VALUE]
    return node


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(role: dict[str, Any], conditions: dict[str, bool]) -> list[dict[str, Any]]:
    found = []
    for policy in resolve(role["Properties"]["Policies"], conditions):
        found += policy["PolicyDocument"]["Statement"]
    return found


def actions_of(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts for a in as_list(s["Action"])}


DEFAULT = {"HasEmail": False, "HasSchedule": False, "HasSourceVersion": False, "HasSecretsKmsKeys": False,
           "IsCodeCommit": False, "IsFanOut": False}
EVERYTHING_ON = {name: True for name in DEFAULT}

BUILD_ACTIONS = {
    "dms:DescribeReplicationTasks", "dms:DescribeEndpoints", "dms:DescribeReplicationInstances",
    "dms:DescribeTableStatistics",
    "secretsmanager:GetSecretValue",
    "cloudwatch:GetMetricStatistics",
    "s3:PutObject", "s3:GetObject",
    "s3:ListBucket",  # run history: the previous run of the task under the report prefix
    "s3:GetBucketAcl", "s3:GetBucketLocation",  # CodeBuild checks the artifact bucket's owner before uploading
    "sns:Publish",
    "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
    "codebuild:CreateReportGroup", "codebuild:CreateReport", "codebuild:UpdateReport",
    "codebuild:BatchPutTestCases",  # the JUnit test report of the `reports:` section
    "ec2:CreateNetworkInterface", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
    "ec2:CreateNetworkInterfacePermission",
}
OPTIONAL_BUILD_ACTIONS = {"kms:Decrypt", "codecommit:GitPull", "codebuild:StartBuildBatch"}
# actions without resource-level permissions: AWS requires Resource "*"
STAR_ALLOWED = {
    "dms:DescribeReplicationTasks", "dms:DescribeEndpoints", "dms:DescribeReplicationInstances",
    "cloudwatch:GetMetricStatistics",
    "ec2:CreateNetworkInterface", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
}
PROJECT_ARN = {"Fn::Sub": "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:project/${ProjectName}"}


# --- (a) lint and shape ------------------------------------------------------------------------------------------

def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), "--", str(TEMPLATE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_parameter_is_documented_and_outputs_name_the_resources(template):
    undocumented = [name for name, p in template["Parameters"].items() if len(p.get("Description", "")) < 20]
    assert undocumented == []
    outputs = template["Outputs"]
    assert outputs["ReportBucketName"]["Value"] == {"Ref": "ReportBucket"}
    assert outputs["ResultsTopicArn"]["Value"] == {"Ref": "ResultsTopic"}
    assert outputs["ProjectName"]["Value"] == {"Ref": "ValidationProject"}


def test_bucket_is_encrypted_private_and_expires_reports(template):
    bucket = template["Resources"]["ReportBucket"]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rule = bucket["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == {"Ref": "ReportExpirationDays"} and rule["Status"] == "Enabled"
    subscription = template["Resources"]["EmailSubscription"]
    assert subscription["Condition"] == "HasEmail" and subscription["Properties"]["Protocol"] == "email"


def test_project_points_the_suite_at_the_created_bucket_and_topic(template):
    project = resolve(template["Resources"]["ValidationProject"]["Properties"], DEFAULT)
    env = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert env == {"DMSVAL_S3_URI": {"Fn::Sub": "s3://${ReportBucket}/${ReportPrefix}"},
                   "DMSVAL_SNS_TOPIC_ARN": {"Ref": "ResultsTopic"}}
    assert project["Source"]["BuildSpec"] == "buildspec.yml"
    assert project["Source"]["Type"] == {"Ref": "SourceType"}
    assert project["Source"]["Location"] == {"Ref": "SourceLocation"}
    assert project["TimeoutInMinutes"] == {"Ref": "BuildTimeoutMinutes"}
    assert project["VpcConfig"] == {"VpcId": {"Ref": "VpcId"}, "Subnets": {"Ref": "SubnetIds"},
                                    "SecurityGroupIds": {"Ref": "SecurityGroupIds"}}
    assert project["LogsConfig"]["CloudWatchLogs"]["GroupName"] == {"Ref": "BuildLogGroup"}
    assert "BuildBatchConfig" not in project
    fanout_project = resolve(template["Resources"]["ValidationProject"]["Properties"], EVERYTHING_ON)
    assert fanout_project["Source"]["BuildSpec"] == "infra/buildspec-fanout.yml"
    assert fanout_project["BuildBatchConfig"]["ServiceRole"] == {"Fn::GetAtt": ["BatchRole", "Arn"]}


# --- (b) least privilege -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("conditions, extra", [
    (DEFAULT, set()),
    (EVERYTHING_ON, OPTIONAL_BUILD_ACTIONS),
    ({**DEFAULT, "HasSecretsKmsKeys": True}, {"kms:Decrypt"}),
], ids=["default", "everything-on", "kms-only"])
def test_build_role_has_exactly_the_needed_actions(template, conditions, extra):
    stmts = statements(template["Resources"]["CodeBuildRole"], conditions)
    assert actions_of(stmts) == BUILD_ACTIONS | extra
    assert all(s["Effect"] == "Allow" for s in stmts)
    assert not [a for a in actions_of(stmts) if "*" in a], "no wildcard actions"
    trust = template["Resources"]["CodeBuildRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "codebuild.amazonaws.com"}]


def test_build_role_resources_are_scoped(template):
    stmts = statements(template["Resources"]["CodeBuildRole"], EVERYTHING_ON)
    by_action: dict[str, list[Any]] = {}
    for s in stmts:
        for action in as_list(s["Action"]):
            by_action.setdefault(action, []).extend(as_list(s["Resource"]))
            if "*" in as_list(s["Resource"]):
                assert action in STAR_ALLOWED, f"{action} on Resource '*'"
    assert {a for a, r in by_action.items() if "*" in r} == STAR_ALLOWED
    reports = [{"Fn::Sub": "${ReportBucket.Arn}/${ReportPrefix}/*"}]
    assert by_action["s3:PutObject"] == by_action["s3:GetObject"] == reports
    assert by_action["s3:GetBucketAcl"] == by_action["s3:GetBucketLocation"] == [
        {"Fn::GetAtt": ["ReportBucket", "Arn"]}]
    assert by_action["s3:ListBucket"] == [{"Fn::GetAtt": ["ReportBucket", "Arn"]}]
    listing = next(s for s in stmts if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${ReportPrefix}/*"}}}
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "SecretArns"}]
    assert by_action["kms:Decrypt"] == [{"Ref": "SecretsKmsKeyArns"}]
    assert by_action["dms:DescribeTableStatistics"] == [{"Ref": "TaskArns"}]
    assert by_action["sns:Publish"] == [{"Ref": "ResultsTopic"}]
    assert by_action["codebuild:StartBuildBatch"] == [PROJECT_ARN]
    for action in ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"):
        assert {r["Fn::Sub"].split("log-group:")[1] for r in by_action[action]} == {
            "/aws/codebuild/${ProjectName}", "/aws/codebuild/${ProjectName}:log-stream:*"}
    for action in ("codebuild:CreateReportGroup", "codebuild:CreateReport", "codebuild:UpdateReport",
                   "codebuild:BatchPutTestCases"):
        assert [r["Fn::Sub"] for r in by_action[action]] == [
            "arn:${AWS::Partition}:codebuild:${AWS::Region}:${AWS::AccountId}:report-group/${ProjectName}-*"]
    eni_permission = next(s for s in stmts if s["Action"] == "ec2:CreateNetworkInterfacePermission")
    assert eni_permission["Resource"]["Fn::Sub"].endswith(":network-interface/*")
    assert eni_permission["Condition"]["StringEquals"] == {"ec2:AuthorizedService": "codebuild.amazonaws.com"}
    assert "ec2:Subnet" in eni_permission["Condition"]["ArnLike"]
    kms = next(s for s in stmts if s["Action"] == "kms:Decrypt")
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}


def test_events_role_can_only_start_this_project(template):
    role = template["Resources"]["EventsRole"]
    stmts = statements(role, EVERYTHING_ON)
    assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in stmts] == [
        (["codebuild:StartBuild"], [{"Fn::GetAtt": ["ValidationProject", "Arn"]}])]
    trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]
    for rule in ("TaskStoppedRule", "CdcScheduleRule"):
        (target,) = template["Resources"][rule]["Properties"]["Targets"]
        assert target["RoleArn"] == {"Fn::GetAtt": ["EventsRole", "Arn"]}
        assert target["Arn"] == {"Fn::GetAtt": ["ValidationProject", "Arn"]}
    batch = statements(template["Resources"]["BatchRole"], EVERYTHING_ON)
    assert actions_of(batch) == {"codebuild:StartBuild", "codebuild:StopBuild", "codebuild:RetryBuild"}
    assert [r for s in batch for r in as_list(s["Resource"])] == [PROJECT_ARN]


# --- (c) the event through EventBridge ---------------------------------------------------------------------------

def start_build_problems(target_input: dict[str, Any]) -> str:
    """Validate a target input as CodeBuild StartBuild parameters (what EventBridge sends CodeBuild)."""
    model = botocore.session.get_session().get_service_model("codebuild").operation_model("StartBuild")
    report = botocore.validate.ParamValidator().validate({"projectName": "dmsval", **target_input},
                                                          model.input_shape)
    return report.generate_report()


def env_overrides(target_input: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v["value"] for v in target_input["environmentVariablesOverride"]}


def test_schedule_input_is_a_valid_start_build_request_for_cdc_mode(template):
    task_arn = "arn:aws:dms:eu-west-1:123456789012:task:ABCDEFGHIJ"
    rule = template["Resources"]["CdcScheduleRule"]
    assert rule["Condition"] == "HasSchedule"
    (target,) = rule["Properties"]["Targets"]
    target_input = json.loads(target["Input"]["Fn::Sub"].replace("${ScheduledTaskArn}", task_arn))
    assert start_build_problems(target_input) == ""
    assert env_overrides(target_input) == {"DMSVAL_TASK_ARN": task_arn, "DMSVAL_MODE": "cdc"}
    assert rule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}


@dataclass(frozen=True)
class Migration:
    database: str
    made: Provisioned
    table_statistics: Path  # DMS's table statistics for the stub plugin (moto lacks describe_table_statistics)

    def local_env(self) -> dict[str, str]:
        """Extra environment a local run needs: DMS table statistics from Stubber instead of moto."""
        return {STUB_ENV: str(self.table_statistics), "PYTEST_ADDOPTS": f"-p {STUB_PLUGIN}"}


@pytest.fixture(scope="session")
def clean_copy(sakila, worker_id_suffix) -> tuple[str, dict[str, int]]:
    """The demo task's full load (its mapping's renames, filters and exclusions) into a fresh database."""
    database = f"dmsval_infra_clean_{worker_id_suffix}"
    create_pg_database(database)
    return database, demo.dms_full_load(sakila, pg_dsn(database))


@pytest.fixture
def clean_migration(aws: AwsContext, clean_copy, redshift_shim, tmp_path) -> Migration:
    database, loaded = clean_copy
    ensure_mysql_reader("127.0.0.1", 3306, READER, PASSWORD)
    made = provision(aws, name="task-infra",
                     source=DbEndpoint("127.0.0.1", 3306, READER, PASSWORD, "sakila"),
                     target=DbEndpoint("127.0.0.1", redshift_shim.port, "postgres", PASSWORD, database),
                     table_mappings=demo.DEMO_TABLE_MAPPINGS)
    return Migration(database, made, demo.write_table_statistics(loaded, tmp_path / "table-statistics.json"))


def put(aws: AwsContext, event: dict[str, Any]) -> None:
    response = aws.client("events").put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"], "Time": event["time"]}])
    assert response["FailedEntryCount"] == 0, response


def assert_clean_run_passed(results: dict[str, Any]) -> None:
    statuses = {c["case_id"]: c["status"] for c in results["cases"]}
    assert sum(1 for c in statuses if c.startswith("row_count[")) == SAKILA_TABLES
    assert sum(1 for c in statuses if c.startswith("row_diff[")) == SAKILA_TABLES
    assert {s: [c for c, v in statuses.items() if v == s] for s in set(statuses.values())} == {
        "passed": list(statuses)}


@pytest.mark.integration
def test_stopped_event_passes_rule_and_transformer_and_runs_the_suite(template, aws, clean_migration, run_suite):
    task_arn = clean_migration.made.task_arn
    rule = template["Resources"]["TaskStoppedRule"]["Properties"]
    pattern = resolve(rule["EventPattern"], DEFAULT)
    assert pattern["resources"] == {"Ref": "TaskArns"}
    assert {k: v for k, v in pattern.items() if k != "resources"} == {
        "source": ["aws.dms"], "detail-type": ["DMS Replication Task State Change"],
        "detail": {"eventType": ["REPLICATION_TASK_STOPPED"]}}
    (target,) = rule["Targets"]
    transformer = target["InputTransformer"]

    sqs, events = aws.client("sqs"), aws.client("events")
    queue_url = sqs.create_queue(QueueName="infra-codebuild-stand-in")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    other_arn = task_arn.replace("task-infra", "task-other")
    events.put_rule(Name="dmsval-task-stopped", State="ENABLED",
                    EventPattern=json.dumps({**pattern, "resources": [task_arn, "arn:aws:dms:us-east-1:"
                                                                      "123456789012:task:UNRELATED"]}))
    events.put_targets(Rule="dmsval-task-stopped", Targets=[{
        "Id": "codebuild-stand-in", "Arn": queue_arn,
        "InputTransformer": {"InputPathsMap": transformer["InputPathsMap"],
                             "InputTemplate": transformer["InputTemplate"]}}])

    started = stopped_event(task_arn)
    started["detail"]["eventType"] = "REPLICATION_TASK_STARTED"
    put(aws, started)                      # another state change of the task: no build
    put(aws, stopped_event(other_arn))     # another task stopped: no build
    put(aws, stopped_event(task_arn))      # this task stopped: one build
    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", []):
        messages += batch
        for m in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert len(messages) == 1, [m["Body"] for m in messages]

    target_input = json.loads(messages[0]["Body"])
    assert start_build_problems(target_input) == ""   # CodeBuild takes it: every override value is a string
    dms_event = env_overrides(target_input)["DMS_EVENT"]
    assert isinstance(dms_event, str)
    forwarded = json.loads(dms_event)
    assert forwarded["resources"] == [task_arn]
    assert forwarded["detail"]["eventType"] == "REPLICATION_TASK_STOPPED"
    assert forwarded["source"] == "aws.dms" and forwarded["detail-type"] == "DMS Replication Task State Change"

    run = run_suite(env={"DMS_EVENT": dms_event, STUB_ENV: str(clean_migration.table_statistics)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert_clean_run_passed(run.results)
    assert run.results["run"]["task"]["identifier"] == "task-infra"


# --- (d) buildspec.yml, run as CodeBuild runs it -----------------------------------------------------------------

def build_env(moto_url: str, **extra: str) -> dict[str, str]:
    """What the build sees locally: this venv first on PATH (as `python`), AWS calls to moto."""
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    return {"PATH": path, "DMSVAL_AWS_ENDPOINT_URL": moto_url, **extra}


def test_buildspec_shape():
    spec = load_buildspec(BUILDSPEC)
    assert spec["phases"]["install"]["commands"] == ["python -m pip install --no-cache-dir -r requirements.txt"]
    assert planned_commands(spec, skip_install=True) == [("build", "python -m pytest tests_validation -n auto")]
    assert spec["reports"]["dmsval"] == {"files": ["junit.xml"], "base-directory": "reports",
                                         "file-format": "JUNITXML"}
    assert spec["artifacts"]["files"] == ["reports/**/*"]


@pytest.mark.integration
def test_buildspec_build_phase_validates_the_clean_migration(aws, clean_migration, moto_server, tmp_path):
    made = clean_migration.made
    reports = tmp_path / "reports"
    env = build_env(moto_server.endpoint_url, DMS_EVENT=json.dumps(stopped_event(made.task_arn)),
                    DMSVAL_REPORTS_DIR=str(reports), **clean_migration.local_env(),
                    # what the CodeBuild project sets
                    DMSVAL_S3_URI=f"s3://{made.bucket}/dms-validation", DMSVAL_SNS_TOPIC_ARN=made.topic_arn)
    run = run_buildspec(BUILDSPEC, env, cwd=REPO, skip_install=True, timeout_s=300)
    assert run.returncodes() == [0], run.output[-4000:]
    results = json.loads((reports / "results.json").read_text())
    assert_clean_run_passed(results)
    assert (reports / "junit.xml").is_file()   # what the reports: section publishes
    run_id = results["run"]["run_id"]
    listed = aws.client("s3").list_objects_v2(Bucket=made.bucket, Prefix="dms-validation/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"dms-validation/task-infra/{run_id}/{name}"
                                               for name in ("junit.xml", "report.html", "results.json")]
    (message,) = delivered_messages(aws, made.queue_url)
    assert message["MessageAttributes"]["verdict"]["Value"] == "passed"


def test_runner_stops_at_the_first_failure_and_keeps_one_shell(tmp_path):
    spec = tmp_path / "buildspec.yml"
    spec.write_text(yaml.safe_dump({"version": 0.2, "env": {"variables": {"A": "spec", "B": "spec"}}, "phases": {
        "install": {"commands": ["exit 9"]},
        "pre_build": {"commands": ["export X=1; cd /"]},
        "build": {"commands": ['test "$A/$B/$X/$(pwd)" = "spec/given/1//"', "(exit 3)", "echo never"]}}}))
    run = run_buildspec(spec, {"B": "given"}, skip_install=True)
    assert [(r.phase, r.returncode) for r in run.results] == [("pre_build", 0), ("build", 0), ("build", 3)]
    assert run.not_run == [("build", "echo never")] and run.returncode == 3 and not run.ok
    with_install = run_buildspec(spec, {"B": "given"})
    assert with_install.returncodes() == [9] and len(with_install.not_run) == 4
    spec.write_text(yaml.safe_dump({"version": 0.2, "phases": {"build": {"commands": ["true"],
                                                                          "finally": ["true"]}}}))
    with pytest.raises(BuildspecError, match="finally"):
        run_buildspec(spec)


# --- fan-out ------------------------------------------------------------------------------------------------------

def test_fanout_graph_is_consistent():
    spec = load_buildspec(FANOUT)
    graph = {b["identifier"]: b for b in spec["batch"]["build-graph"]}
    shards = sorted(i for i in graph if i.startswith("shard_"))
    n = len(shards)
    assert n >= 2
    assert [graph[i]["env"]["variables"]["DMSVAL_FANOUT_SHARD"] for i in shards] == [f"{k}/{n}"
                                                                                  for k in range(1, n + 1)]
    assert {graph[i]["buildspec"] for i in shards} == {"infra/buildspec-shard.yml"}
    merge = graph["merge"]
    assert sorted(merge["depend-on"]) == shards
    assert merge["env"]["variables"]["DMSVAL_FANOUT_SHARDS"] == str(n)
    assert planned_commands(spec, skip_install=True) == [("build", "python -m dmsval.deploy.fanout dispatch")]
    for name in ("buildspec-shard.yml", "buildspec-merge.yml"):
        assert (REPO / "infra" / name).is_file()
    shard_cmds = [c for _, c in planned_commands(load_buildspec(REPO / "infra" / "buildspec-shard.yml"),
                                                 skip_install=True)]
    assert '--shard "$DMSVAL_FANOUT_SHARD"' in shard_cmds[0] and "DMSVAL_SNS_TOPIC_ARN= " in shard_cmds[0]
    merge_cmds = [c for _, c in planned_commands(load_buildspec(REPO / "infra" / "buildspec-merge.yml"),
                                                 skip_install=True)]
    assert merge_cmds[1].startswith("python -m dmsval.merge reports/shard-*/results.json")


def test_dispatch_starts_the_batch_with_the_trigger_forwarded():
    client = botocore.session.get_session().create_client("codebuild", region_name="us-east-1",
                                                         aws_access_key_id="x", aws_secret_access_key="x")
    environ = {"CODEBUILD_BUILD_ID": "dmsval:1234-abcd", "CODEBUILD_RESOLVED_SOURCE_VERSION": "c0ffee",
               "DMS_EVENT": '{"source": "aws.dms"}', "DMSVAL_MODE": "", "UNRELATED": "x"}
    with Stubber(client) as stub:
        stub.add_response("start_build_batch", {"buildBatch": {"id": "dmsval:batch-1"}}, {
            "projectName": "dmsval", "buildspecOverride": "infra/buildspec-fanout.yml", "sourceVersion": "c0ffee",
            "environmentVariablesOverride": [
                {"name": "DMS_EVENT", "value": '{"source": "aws.dms"}', "type": "PLAINTEXT"},
                {"name": "DMSVAL_FANOUT_KEY", "value": "1234-abcd", "type": "PLAINTEXT"}]})
        assert fanout.dispatch(environ, client) == "dmsval:batch-1"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A source directory like CODEBUILD_SRC_DIR (links to this repository) whose reports/ is private."""
    src = tmp_path / "src"
    src.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in ("reports", ".git", ".venv", ".local", ".mypy_cache", ".pytest_cache"):
            (src / entry.name).symlink_to(entry)
    return src


@pytest.mark.integration
def test_fanout_shards_hand_their_results_to_the_merge_build(aws, clean_migration, moto_server, workspace):
    made = clean_migration.made
    env = build_env(moto_server.endpoint_url, DMS_EVENT=json.dumps(stopped_event(made.task_arn)),
                    DMSVAL_S3_URI=f"s3://{made.bucket}/dms-validation", DMSVAL_SNS_TOPIC_ARN=made.topic_arn,
                    DMSVAL_FANOUT_KEY="batch-key-1", **clean_migration.local_env(),
                    DMSVAL_CHECKS="row_count")  # the fan-out glue is under test here, not the checks
    graph = load_buildspec(FANOUT)["batch"]["build-graph"]
    shards = [b["env"]["variables"]["DMSVAL_FANOUT_SHARD"] for b in graph if b["identifier"].startswith("shard_")]

    def run_shard(shard: str):
        return run_buildspec(REPO / "infra" / "buildspec-shard.yml", {**env, "DMSVAL_FANOUT_SHARD": shard},
                             cwd=workspace, skip_install=True, timeout_s=300)

    with ThreadPoolExecutor(len(shards)) as pool:   # the batch runs its shard builds side by side
        runs = list(pool.map(run_shard, shards))
    union: dict[str, str] = {}
    for shard, run in zip(shards, runs):
        assert run.returncodes() == [0, 0], run.output[-4000:]
        cases = {c["case_id"]: c["status"] for c in json.loads(
            (workspace / "reports" / f"shard-{shard.split('/')[0]}" / "results.json").read_text())["cases"]}
        assert cases and not set(cases) & set(union), f"shard {shard}: empty, or a case ran in two shards"
        union.update(cases)
    assert all(c.startswith("row_count[") for c in union) and len(union) == SAKILA_TABLES
    assert set(union.values()) == {"passed"}
    keys = sorted(o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=made.bucket)["Contents"])
    assert keys == [f"dms-validation/fanout/batch-key-1/shard-{k}/results.json" for k in range(1, len(shards) + 1)]
    assert delivered_messages(aws, made.queue_url, wait_s=1) == []   # shards publish nothing

    merged = workspace.parent / "merge"
    pulled = fanout.pull({**env, "AWS_DEFAULT_REGION": aws.region}, len(shards), merged)
    assert [p.relative_to(merged).as_posix() for p in pulled] == [f"shard-{k}/results.json"
                                                                   for k in range(1, len(shards) + 1)]
    if importlib.util.find_spec("dmsval.merge") is None:
        pytest.skip("dmsval.merge is not there yet: the merge build's second command was not run")
    (workspace / "reports").rename(workspace / "reports-shards")
    run = run_buildspec(REPO / "infra" / "buildspec-merge.yml", {**env, "DMSVAL_FANOUT_SHARDS": str(len(shards))},
                        cwd=workspace, skip_install=True, timeout_s=300)
    assert run.returncodes() == [0, 0], run.output[-4000:]
    merged_results = json.loads((workspace / "reports" / "results.json").read_text())
    assert {c["case_id"]: c["status"] for c in merged_results["cases"]} == union
    (message,) = delivered_messages(aws, made.queue_url)
    assert message["MessageAttributes"]["verdict"]["Value"] == "passed"
