"""The chart refuses values it cannot deploy, and says which values to change:
validateValues for combinations, values.schema.json for names and types."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Chart

# (overrides on top of ci/default-values.yaml, a sentence the error must contain)
BAD_COMBINATIONS = [
    (["auth.jwtSecret="], "No JWT secret: set auth.jwtSecret"),
    (["auth.jwtSecret=too-short"], "auth.jwtSecret is 9 characters long; use at least 32"),
    (["externalDatabase.host="], "No database: set externalDatabase.host"),
    (["postgresql.enabled=true"], "Both postgresql.enabled=true and externalDatabase.host are set"),
    (["externalDatabase.password="], "externalDatabase.host is set but no password"),
    (["externalS3.host="], "No object store: set externalS3.host"),
    (["minio.enabled=true"], "Both minio.enabled=true and externalS3.host are set"),
    (["externalS3.secretAccessKey="], "externalS3.host is set but credentials are missing"),
    (["externalNats.host="], "No event bus: set externalNats.host"),
    (["nats.enabled=true"], "Both nats.enabled=true and externalNats.host are set"),
    (
        ["config.env.RTCC_WEBHOOK_TOKEN=abc"],
        "these names look like credentials:\n    RTCC_WEBHOOK_TOKEN",
    ),
    (
        ["registry.pdb.minAvailable=1"],
        "Set either registry.pdb.minAvailable or registry.pdb.maxUnavailable, not both",
    ),
    (
        ["ingest.autoscaling.enabled=true", "ingest.autoscaling.minReplicas=20"],
        "minReplicas (20) is greater than maxReplicas (10)",
    ),
    (
        [
            "playback.autoscaling.enabled=true",
            "playback.autoscaling.targetCPUUtilizationPercentage=0",
        ],
        "Autoscaling is enabled with no metric",
    ),
]

BAD_TYPES_AND_NAMES = [
    (["registry.replica=2"], "additional properties 'replica' not allowed"),
    (["ingest.replicas=two"], "at '/ingest/replicas'"),
    # Only ingest, analytics and playback can autoscale.
    (["registry.autoscaling.enabled=true"], "additional properties 'autoscaling' not allowed"),
    (["podAntiAffinityPreset=sometimes"], "at '/podAntiAffinityPreset'"),
    (["externalDatabase.password=p@ss/word"], "at '/externalDatabase/password'"),
    (["image.digest=latest"], "at '/image/digest'"),
    (["config.env.LOG_LEVEL=debug"], "'LOG_LEVEL' does not match pattern '^RTCC_"),
]


@pytest.mark.parametrize(
    ("sets", "message"), BAD_COMBINATIONS, ids=[s[0][0] for s in BAD_COMBINATIONS]
)
def test_validate_values_rejects_bad_combinations_with_a_clear_message(
    chart: Chart, sets: list[str], message: str
) -> None:
    error = chart.render_error([chart.scenario("default-values")], sets)
    assert "VALUES VALIDATION:" in error
    assert message in error


@pytest.mark.parametrize(
    ("sets", "message"), BAD_TYPES_AND_NAMES, ids=[s[0][0] for s in BAD_TYPES_AND_NAMES]
)
def test_schema_rejects_unknown_and_mistyped_values(
    chart: Chart, sets: list[str], message: str
) -> None:
    error = chart.render_error([chart.scenario("default-values")], sets)
    assert "don't meet the specifications of the schema" in error
    assert message in error


def test_defaults_alone_fail_naming_everything_that_is_missing(chart: Chart) -> None:
    error = chart.render_error([], [])
    for missing in ("No JWT secret", "No database", "No object store", "No event bus"):
        assert missing in error


def test_an_existing_secret_stands_in_for_each_credential(chart: Chart) -> None:
    sets = [
        "auth.jwtSecret=",
        "auth.existingSecret=rtcc-auth",
        "externalDatabase.password=",
        "externalDatabase.existingSecret=rtcc-db",
        "externalS3.accessKeyId=",
        "externalS3.secretAccessKey=",
        "externalS3.existingSecret=rtcc-s3",
    ]
    result = chart.template([chart.scenario("default-values")], sets)
    assert result.returncode == 0, result.stderr
    assert "kind: Secret" not in result.stdout
