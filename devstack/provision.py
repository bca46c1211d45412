"""Register a DMS migration in (emulated) AWS the way a user's account would have it.

Used by the demo and by the tests against moto in server mode: secrets for both endpoints, a replication
instance, a MySQL/MariaDB source endpoint and a Redshift target endpoint naming those secrets, a replication
task with TableMappings, an S3 bucket for reports and an SNS topic with an SQS queue subscribed (so the message
"as delivered" can be read back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dmsval.aws.clients import AwsContext


@dataclass(frozen=True)
class DbEndpoint:
    host: str
    port: int
    user: str
    password: str
    database: str


@dataclass(frozen=True)
class Provisioned:
    task_arn: str
    task_id: str
    instance_id: str
    source_endpoint_arn: str
    target_endpoint_arn: str
    source_secret_id: str
    target_secret_id: str
    bucket: str
    topic_arn: str
    queue_url: str


def include_schema(schema: str, rule_id: int = 1, table: str = "%") -> dict[str, Any]:
    return {"rule-type": "selection", "rule-id": str(rule_id), "rule-name": f"include-{schema}-{rule_id}",
            "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": "include"}


def provision(aws: AwsContext, *, name: str, source: DbEndpoint, target: DbEndpoint,
              table_mappings: dict[str, Any], migration_type: str = "full-load",
              task_settings: dict[str, Any] | None = None, target_engine: str = "redshift",
              source_engine: str = "mariadb", stop_after_start: bool = True) -> Provisioned:
    """``stop_after_start=False`` leaves the task running, as a ``full-load-and-cdc`` task stays in CDC."""
    secrets = aws.client("secretsmanager")
    dms = aws.client("dms")

    def secret(role: str, db: DbEndpoint, engine: str) -> str:
        secret_id = f"{name}/{role}"
        value = json.dumps({"username": db.user, "password": db.password, "host": db.host, "port": db.port,
                            "dbname": db.database, "engine": engine})
        try:
            secrets.create_secret(Name=secret_id, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_id, SecretString=value)
        return secret_id

    source_secret = secret("source", source, source_engine)
    target_secret = secret("target", target, target_engine)
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=f"{name}-instance", ReplicationInstanceClass="dms.t3.medium",
    )["ReplicationInstance"]
    settings_key = {"redshift": "RedshiftSettings", "postgres": "PostgreSQLSettings"}[target_engine]
    source_ep = dms.create_endpoint(
        EndpointIdentifier=f"{name}-source", EndpointType="source", EngineName=source_engine,
        ServerName=source.host, Port=source.port, DatabaseName=source.database, SslMode="none",
        MySQLSettings={"SecretsManagerSecretId": source_secret,
                       "SecretsManagerAccessRoleArn": "arn:aws:iam::123456789012:role/dms-secrets"},
    )["Endpoint"]
    target_ep = dms.create_endpoint(
        EndpointIdentifier=f"{name}-target", EndpointType="target", EngineName=target_engine,
        ServerName=target.host, Port=target.port, DatabaseName=target.database, SslMode="none",
        **{settings_key: {"SecretsManagerSecretId": target_secret,
                          "SecretsManagerAccessRoleArn": "arn:aws:iam::123456789012:role/dms-secrets"}},
    )["Endpoint"]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier=name, SourceEndpointArn=source_ep["EndpointArn"],
        TargetEndpointArn=target_ep["EndpointArn"], ReplicationInstanceArn=instance["ReplicationInstanceArn"],
        MigrationType=migration_type, TableMappings=json.dumps(table_mappings),
        ReplicationTaskSettings=json.dumps(task_settings or {
            "TargetMetadata": {"SupportLobs": True, "LimitedSizeLobMode": True, "LobMaxSize": 32},
            "FullLoadSettings": {"TargetTablePrepMode": "DROP_AND_CREATE"},
        }),
    )["ReplicationTask"]
    dms.start_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"],
                               StartReplicationTaskType="start-replication")
    if stop_after_start:
        dms.stop_replication_task(ReplicationTaskArn=task["ReplicationTaskArn"])

    bucket = f"{name}-reports"
    s3 = aws.client("s3")
    if aws.region in (None, "us-east-1"):
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=f"{name}-results")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Provisioned(task["ReplicationTaskArn"], name, f"{name}-instance", source_ep["EndpointArn"],
                       target_ep["EndpointArn"], source_secret, target_secret, bucket, topic_arn, queue_url)


def provision_cdc_task(aws: AwsContext, *, name: str, source: DbEndpoint, target: DbEndpoint,
                       table_mappings: dict[str, Any], **options: Any) -> Provisioned:
    """A running ``full-load-and-cdc`` task (e.g. with ``source`` on a :class:`devstack.cdc.BinlogMariaDB`'s port):
    what :class:`devstack.cdc.CdcReplicator` stands in for; its latency dimensions are ``instance_id`` and the
    task ARN's last part."""
    return provision(aws, name=name, source=source, target=target, table_mappings=table_mappings,
                     migration_type="full-load-and-cdc", stop_after_start=False, **options)


def delivered_messages(aws: AwsContext, queue_url: str, wait_s: int = 2) -> list[dict[str, Any]]:
    """SNS notifications delivered to the subscribed queue (the SNS envelope JSON of each)."""
    sqs = aws.client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
        found = batch.get("Messages", [])
        if not found:
            return messages
        for m in found:
            messages.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        wait_s = 0


def put_latency(aws: AwsContext, instance_id: str, task_resource_id: str, source_s: float | None,
                target_s: float | None) -> None:
    """Publish CDC latency datapoints as DMS would (for the CDC gate)."""
    data = []
    for metric, value in (("CDCLatencySource", source_s), ("CDCLatencyTarget", target_s)):
        if value is None:
            continue
        data.append({"MetricName": metric, "Value": value, "Unit": "Seconds", "Dimensions": [
            {"Name": "ReplicationInstanceIdentifier", "Value": instance_id},
            {"Name": "ReplicationTaskIdentifier", "Value": task_resource_id}]})
    if data:
        aws.client("cloudwatch").put_metric_data(Namespace="AWS/DMS", MetricData=data)


def ensure_mysql_reader(host: str, port: int, user: str, password: str, admin_user: str = "root",
                        admin_password: str = "") -> None:
    """Create (or reset) a SELECT-only MariaDB/MySQL account for the validator, as a user's DBA would."""
    import pymysql

    with pymysql.connect(host=host, port=port, user=admin_user, password=admin_password) as conn:
        with conn.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (user, password))
            cur.execute("CREATE USER IF NOT EXISTS %s@'localhost' IDENTIFIED BY %s", (user, password))
            for hostpart in ("%", "localhost"):
                cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, hostpart, password))
                cur.execute("GRANT SELECT, SHOW VIEW ON *.* TO %s@%s", (user, hostpart))
