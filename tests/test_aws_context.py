"""The one rule for where AWS calls go: the region given, else the ARN's region, else boto3's chain."""

from __future__ import annotations

from dmsval.aws.clients import AwsContext, aws_context_for
from dmsval.config import Settings
from dmsval.deploy.fanout import aws_context as fanout_context
from dmsval.events import manual_trigger
from dmsval.notebook import aws_context_for as notebook_context_for
from dmsval.run import aws_context as run_context

ARN = "arn:aws:dms:eu-west-2:123456789012:task:ABCDEF"


def test_region_given_wins_over_the_arns():
    assert aws_context_for(ARN, "us-east-1", "http://127.0.0.1:5000") == AwsContext("us-east-1", "http://127.0.0.1:5000")


def test_region_falls_back_to_the_arns_then_to_none():
    assert aws_context_for(ARN) == AwsContext("eu-west-2", None)
    assert aws_context_for(ARN, "", "") == AwsContext("eu-west-2", None)
    assert aws_context_for(None) == AwsContext(None, None)
    assert aws_context_for("not-an-arn") == AwsContext(None, None)
    assert aws_context_for("arn:aws:dms::123456789012:task:X") == AwsContext(None, None)


def test_every_caller_applies_the_same_rule():
    settings = Settings(aws_endpoint_url="http://127.0.0.1:5000")
    expected = AwsContext("eu-west-2", "http://127.0.0.1:5000")
    assert run_context(settings, manual_trigger(ARN)) == expected
    assert notebook_context_for({"run": {"task": {"arn": ARN}}}, settings) == expected
    assert run_context(Settings(aws_region="ap-south-1"), manual_trigger(ARN)) == AwsContext("ap-south-1", None)
    assert fanout_context({"DMSVAL_AWS_REGION": "eu-central-1", "DMSVAL_AWS_ENDPOINT_URL": ""}) == \
        AwsContext("eu-central-1", None)
