"""The S3 bucket (moto's server, started by bin/services) every integration test stores in."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def bucket():
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["NEXUS_S3_ENDPOINT_URL"],
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    client.create_bucket(Bucket=os.environ["NEXUS_S3_BUCKET"])
    return client
