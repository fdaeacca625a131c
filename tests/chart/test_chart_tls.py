"""gRPC TLS / mTLS in the chart, rendered with the real helm: certificates from
cert-manager (or an existing Secret) mounted into every target, RTCC_TLS__* pointing at
them, probes and the helm test speaking TLS through `rtcc health`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest

from rtcc.core.config import TARGETS

if TYPE_CHECKING:
    from conftest import Chart, Obj, Rendered

CERT_MANAGER = [
    "tls.enabled=true",
    "tls.certManager.enabled=true",
    "tls.certManager.issuerRef.name=city-ca",
    "tls.certManager.issuerRef.kind=ClusterIssuer",
]
MOUNT = "/etc/rtcc/tls"


def render(chart: Chart, sets: list[str]) -> Rendered:
    return chart.render([chart.scenario("default-values")], sets)


def container(pod_spec: Obj) -> Obj:
    first: Obj = pod_spec["containers"][0]
    return first


def env_of(c: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def test_cert_manager_certificate_names_every_targets_service(chart: Chart) -> None:
    rendered = render(chart, CERT_MANAGER)
    (cert,) = rendered.of_kind("Certificate")
    spec = cert["spec"]
    assert spec["issuerRef"] == {"name": "city-ca", "kind": "ClusterIssuer"}
    assert set(spec["usages"]) == {"server auth", "client auth"}
    for target in TARGETS:
        assert f"rtcc-{target}" in spec["dnsNames"]
        assert f"rtcc-{target}.rtcc.svc.cluster.local" in spec["dnsNames"]
    assert "127.0.0.1" in spec["ipAddresses"]  # the in-pod probes dial it
    for obj in rendered.objects:  # everything else is plain Kubernetes, and valid
        if obj["kind"] != "Certificate":
            kubernetes_validate.validate(obj, chart.kube_version, strict=True)


def test_every_target_mounts_the_certificate_and_serves_mtls(chart: Chart) -> None:
    rendered = render(chart, CERT_MANAGER)
    (cert,) = rendered.of_kind("Certificate")
    secret = cert["spec"]["secretName"]
    for target, deployment in rendered.by_component("workload").items():
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["grpc-tls"]["secret"]["secretName"] == secret, target
        c = container(spec)
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["grpc-tls"] == {"name": "grpc-tls", "mountPath": MOUNT, "readOnly": True}
        env = env_of(c)
        assert env["RTCC_TLS__CERT_FILE"] == f"{MOUNT}/tls.crt"
        assert env["RTCC_TLS__KEY_FILE"] == f"{MOUNT}/tls.key"
        assert env["RTCC_TLS__CA_FILE"] == f"{MOUNT}/ca.crt"
        assert env["RTCC_TLS__CLIENT_CA_FILE"] == f"{MOUNT}/ca.crt"  # mutual by default
        assert env["RTCC_TLS__CLIENT_CERT_FILE"] == f"{MOUNT}/tls.crt"


def test_probes_speak_tls_through_rtcc_health(chart: Chart) -> None:
    rendered = render(chart, CERT_MANAGER)
    for target, deployment in rendered.by_component("workload").items():
        c = container(deployment["spec"]["template"]["spec"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert "grpc" not in c[probe], (target, probe)
            command = c[probe]["exec"]["command"]
            assert command[:4] == ["rtcc", "health", "--address", "127.0.0.1:50051"]
            assert c[probe]["timeoutSeconds"] >= 5
        readiness = c["readinessProbe"]["exec"]["command"]
        assert readiness[-2] == "--service" and readiness[-1].startswith(f"rtcc.{target}.v1.")


def test_helm_test_pod_checks_health_over_mtls(chart: Chart) -> None:
    rendered = render(chart, CERT_MANAGER)
    (pod,) = rendered.of_kind("Pod")
    assert pod["spec"]["volumes"][0]["name"] == "grpc-tls"
    for c in pod["spec"]["containers"]:
        assert env_of(c)["RTCC_TLS__CLIENT_KEY_FILE"] == f"{MOUNT}/tls.key"
        assert c["volumeMounts"][0]["mountPath"] == MOUNT


def test_existing_secret_and_server_only_tls(chart: Chart) -> None:
    rendered = render(
        chart, ["tls.enabled=true", "tls.existingSecret=city-grpc", "tls.mutual=false"]
    )
    assert rendered.of_kind("Certificate") == []
    for deployment in rendered.workloads():
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["grpc-tls"]["secret"]["secretName"] == "city-grpc"
        env = env_of(container(spec))
        assert "RTCC_TLS__CA_FILE" in env and "RTCC_TLS__CLIENT_CA_FILE" not in env


def test_without_tls_nothing_changes(rendered: Rendered) -> None:
    assert rendered.of_kind("Certificate") == []
    for _, pod_spec in rendered.pod_specs():
        assert all(v["name"] != "grpc-tls" for v in pod_spec.get("volumes", []))
        assert not any(n.startswith("RTCC_TLS__") for n in env_of(container(pod_spec)))


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["tls.enabled=true"], "tls.enabled needs a certificate"),
        (
            ["tls.enabled=true", "tls.existingSecret=x", "tls.certManager.enabled=true"],
            "Both tls.existingSecret and tls.certManager.enabled are set",
        ),
        (
            ["tls.enabled=true", "tls.certManager.enabled=true"],
            "tls.certManager.enabled needs tls.certManager.issuerRef.name",
        ),
    ],
)
def test_incomplete_tls_values_are_refused_with_a_clear_message(
    chart: Chart, sets: list[str], message: str
) -> None:
    error = chart.render_error([chart.scenario("default-values")], sets)
    assert "VALUES VALIDATION:" in error and message in error


def test_chart_with_mtls_lints_strictly(chart: Chart, tmp_path: Path) -> None:
    values = tmp_path / "tls-values.yaml"
    values.write_text(
        (chart.scenario("default-values")).read_text()
        + "\ntls:\n  enabled: true\n  certManager:\n    enabled: true\n"
        "    issuerRef: {name: city-ca, kind: ClusterIssuer}\n"
    )
    result = chart.lint(values)
    assert result.returncode == 0, result.stdout + result.stderr
