"""The Helm chart: lints, renders objects the Kubernetes API accepts, and keeps the
shape operators rely on, for every scenario in helm/rtcc/ci/."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import yaml

from rtcc.core.config import TARGETS as PROGRAM_TARGETS

if TYPE_CHECKING:
    from conftest import Chart, Obj, Rendered

# The program's targets table is the chart's: one Deployment per target, whose
# readiness asks the target's own gRPC service.
TARGETS = {t: f"rtcc.{t}.v1.{t.capitalize()}Service" for t in PROGRAM_TARGETS}
SCALABLE_TARGETS = {"ingest", "analytics", "playback"}

# Values whose content is a credential, wherever they sit in a values file.
CREDENTIAL_VALUE_KEYS = {"jwtSecret", "password", "rootPassword", "accessKeyId", "secretAccessKey"}
ENV_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def container(deployment: Obj) -> Obj:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def env_of(deployment: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container(deployment).get("env", [])}


def credentials_in(values: Any) -> set[str]:
    """Every non-empty credential value in a values tree."""
    found: set[str] = set()
    if isinstance(values, dict):
        for key, value in values.items():
            if key in CREDENTIAL_VALUE_KEYS and isinstance(value, str) and value:
                found.add(value)
            else:
                found |= credentials_in(value)
    elif isinstance(values, list):
        for item in values:
            found |= credentials_in(item)
    return found


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_chart_lints_strictly_with_each_scenario(chart: Chart, scenario: Path) -> None:
    result = chart.lint(scenario)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_object_is_valid_against_the_kubernetes_api_schema(
    chart: Chart, rendered: Rendered
) -> None:
    errors = []
    for obj in rendered.objects:
        try:
            kubernetes_validate.validate(obj, chart.kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = "/".join(str(p) for p in e.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {e.message}")
    assert not errors, "\n".join(errors)


def test_every_object_is_namespaced_to_the_release(chart: Chart, rendered: Rendered) -> None:
    assert {o["metadata"].get("namespace") for o in rendered.objects} == {chart.namespace}


def test_each_target_has_one_deployment_service_pdb_and_network_policy(
    rendered: Rendered,
) -> None:
    for kind in ("workload", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        components = set(rendered.by_component(kind)) - {"postgresql", "minio", "nats"}
        assert components == set(TARGETS), kind


def test_only_ingest_analytics_and_playback_may_autoscale(
    rendered: Rendered, scenario_values: Obj
) -> None:
    hpas = rendered.by_component("HorizontalPodAutoscaler")
    enabled = {
        t for t in TARGETS if scenario_values.get(t, {}).get("autoscaling", {}).get("enabled")
    }
    assert set(hpas) == enabled
    assert set(hpas) <= SCALABLE_TARGETS
    deployments = rendered.by_component("workload")
    for target, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"]["name"] == deployments[target]["metadata"]["name"]
        # Helm must not reset the replica count the HPA chose on every upgrade.
        assert "replicas" not in deployments[target]["spec"]


def test_production_autoscales_all_three_scalable_targets(chart: Chart) -> None:
    rendered = chart.render([chart.scenario("production-values")])
    assert set(rendered.by_component("HorizontalPodAutoscaler")) == SCALABLE_TARGETS


def test_every_deployment_serves_its_target_with_grpc_probes(rendered: Rendered) -> None:
    for target, deployment in rendered.by_component("workload").items():
        c = container(deployment)
        assert c["args"] == ["serve", f"--target={target}"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert ports["grpc"] == 50051 and ports["metrics"] == 9100
        assert ("http" in ports) == (target == "playback")
        for probe in ("startupProbe", "livenessProbe"):
            assert c[probe]["grpc"] == {"port": 50051}, (target, probe)
        assert c["readinessProbe"]["grpc"] == {"port": 50051, "service": TARGETS[target]}


def test_every_deployment_rolls_when_configuration_changes(rendered: Rendered) -> None:
    for deployment in rendered.workloads():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"])
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/secret"])


def test_checksums_follow_config_and_credentials_only(chart: Chart) -> None:
    def checksums(*sets: str) -> tuple[str, str]:
        rendered = chart.render([chart.scenario("default-values")], list(sets))
        annotations = [
            d["spec"]["template"]["metadata"]["annotations"] for d in rendered.workloads()
        ]
        pairs = {(a["checksum/config"], a["checksum/secret"]) for a in annotations}
        assert len(pairs) == 1, "every target hashes the same configuration"
        return pairs.pop()

    config, secret = checksums()
    assert checksums() == (config, secret)
    changed_config, same_secret = checksums("config.env.RTCC_EXAMPLE=1")
    assert changed_config != config and same_secret == secret
    same_config, changed_secret = checksums("auth.jwtSecret=another-ci-jwt-secret-0123456789abcdef")
    assert same_config == config and changed_secret != secret


def test_no_credential_appears_outside_a_secret(rendered: Rendered, scenario_values: Obj) -> None:
    credentials = credentials_in(scenario_values)
    for secret in rendered.of_kind("Secret"):
        for key, value in secret.get("data", {}).items():
            if "password" in key or "secret" in key:
                credentials.add(base64.b64decode(value).decode())
    for obj in rendered.objects:
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        leaked = [c for c in credentials if c in text]
        assert not leaked, f"{obj['kind']}/{obj['metadata']['name']} holds a credential"


def test_config_map_holds_no_credential_names(rendered: Rendered) -> None:
    for config_map in rendered.of_kind("ConfigMap"):
        for name, value in config_map["data"].items():
            assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", name), name
            assert "@" not in value, f"{name} looks like a URL with credentials"


def test_backend_urls_are_built_from_earlier_secret_variables(rendered: Rendered) -> None:
    for deployment in rendered.workloads():
        env = container(deployment)["env"]
        defined: set[str] = set()
        for var in env:
            for ref in ENV_REFERENCE.findall(var.get("value", "")):
                # Kubernetes expands $(VAR) only from variables defined before it.
                assert ref in defined, f"{var['name']} uses $({ref}) before it is defined"
            defined.add(var["name"])
        by_name = env_of(deployment)
        assert by_name["RTCC_DATABASE_URL"]["value"].startswith("postgresql://")
        assert "$(RTCC_DATABASE_PASSWORD)@" in by_name["RTCC_DATABASE_URL"]["value"]
        assert by_name["RTCC_OBJECT_STORE_URL"]["value"].startswith(
            "s3://$(RTCC_S3_ACCESS_KEY_ID):$(RTCC_S3_SECRET_ACCESS_KEY)@"
        )
        for name in (
            "RTCC_AUTH__JWT_SECRET",
            "RTCC_DATABASE_PASSWORD",
            "RTCC_S3_SECRET_ACCESS_KEY",
        ):
            assert "secretKeyRef" in by_name[name]["valueFrom"], name


def test_every_pod_runs_as_non_root_on_a_read_only_root(rendered: Rendered) -> None:
    for name, pod in rendered.pod_specs():
        pod_context = pod.get("securityContext", {})
        assert pod_context.get("runAsNonRoot") is True, name
        assert pod_context.get("runAsUser", 0) != 0, name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"]:
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert context["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert context["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert "limits" in c["resources"] and "requests" in c["resources"], (name, c["name"])


def test_selectors_pick_exactly_their_targets_pods(rendered: Rendered) -> None:
    pods = {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
        for d in rendered.of_kind("Deployment") + rendered.of_kind("StatefulSet")
    }
    selectors = (
        [(o, o["spec"]["selector"]) for o in rendered.of_kind("Service")]
        + [
            (o, o["spec"]["selector"]["matchLabels"])
            for o in rendered.workloads() + rendered.of_kind("PodDisruptionBudget")
        ]
        + [(o, o["spec"]["podSelector"]["matchLabels"]) for o in rendered.of_kind("NetworkPolicy")]
    )
    for obj, selector in selectors:
        picked = [name for name, labels in pods.items() if selects(selector, labels)]
        # A headless Service (rtcc-ingest-headless) picks the pods of its workload.
        expected = obj["metadata"]["name"].removesuffix("-headless")
        assert picked == [expected], f"{obj['kind']}/{obj['metadata']['name']}"


def test_targets_reach_each_other_through_their_services(rendered: Rendered) -> None:
    (config_map,) = rendered.of_kind("ConfigMap")
    services = rendered.by_component("Service")
    for target in TARGETS:
        host, port = config_map["data"][f"RTCC_PEERS__{target.upper()}"].split(":")
        service = services[target]
        assert host == service["metadata"]["name"]
        assert [p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"] == [int(port)]
    for deployment in rendered.workloads():
        refs = container(deployment)["envFrom"]
        assert {"configMapRef": {"name": config_map["metadata"]["name"]}} in refs


def test_helm_test_pod_checks_every_targets_grpc_health(rendered: Rendered) -> None:
    (pod,) = rendered.of_kind("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["spec"]["restartPolicy"] == "Never"
    services = rendered.by_component("Service")
    checked = {c["name"]: c["args"] for c in pod["spec"]["containers"]}
    assert checked == {
        t: ["health", "--address", f"{services[t]['metadata']['name']}:50051", "--service", s]
        for t, s in TARGETS.items()
    }


def test_default_image_is_the_release_of_the_charts_app_version(chart: Chart) -> None:
    app_version = yaml.safe_load((chart.path / "Chart.yaml").read_text())["appVersion"]
    rendered = chart.render([chart.scenario("default-values")])
    for deployment in rendered.workloads():
        assert container(deployment)["image"] == f"ghcr.io/openrtcc/rtcc:{app_version}"


def test_production_takes_every_credential_from_existing_secrets(chart: Chart) -> None:
    path = chart.scenario("production-values")
    values = yaml.safe_load(path.read_text())
    rendered = chart.render([path])
    assert rendered.of_kind("Secret") == []
    bundled = [o for o in rendered.of_kind("StatefulSet") if o not in rendered.workloads()]
    assert bundled == [], "no bundled backend (ingest's own StatefulSet aside)"
    expected = {
        "RTCC_AUTH__JWT_SECRET": (values["auth"]["existingSecret"], "jwt-secret"),
        "RTCC_DATABASE_PASSWORD": (values["externalDatabase"]["existingSecret"], "password"),
        "RTCC_S3_ACCESS_KEY_ID": (values["externalS3"]["existingSecret"], "access-key-id"),
        "RTCC_S3_SECRET_ACCESS_KEY": (values["externalS3"]["existingSecret"], "secret-access-key"),
    }
    for deployment in rendered.workloads():
        env = env_of(deployment)
        for name, (secret, key) in expected.items():
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}
        assert env["RTCC_DATABASE_URL"]["value"].endswith(
            "@rtcc-db.postgres.svc.cluster.local:5432/rtcc?ssl=require"
        )
    (ingress,) = rendered.of_kind("Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "rtcc-playback", "port": {"name": "http"}}


def test_trial_brings_up_bundled_backends_and_points_the_targets_at_them(chart: Chart) -> None:
    rendered = chart.render([chart.scenario("trial-values")])
    bundled = set(rendered.by_component("StatefulSet")) - {"ingest"}
    assert bundled == {"postgresql", "minio", "nats"}
    services = {s["metadata"]["name"]: s for s in rendered.of_kind("Service")}
    ports = {name: {p["port"] for p in s["spec"]["ports"]} for name, s in services.items()}
    assert 5432 in ports["rtcc-postgresql"]
    assert 9000 in ports["rtcc-minio"]
    assert 4222 in ports["rtcc-nats"]
    (config_map,) = rendered.of_kind("ConfigMap")
    assert config_map["data"]["RTCC_BUS_URL"] == "nats://rtcc-nats:4222"
    (secret,) = rendered.of_kind("Secret")
    generated = base64.b64decode(secret["data"]["database-password"]).decode()
    assert len(generated) == 32
    env = env_of(rendered.named("Deployment", "rtcc-registry"))
    assert env["RTCC_DATABASE_URL"]["value"] == (
        "postgresql://rtcc:$(RTCC_DATABASE_PASSWORD)@rtcc-postgresql:5432/rtcc"
    )
    assert env["RTCC_OBJECT_STORE_URL"]["value"].endswith(
        "@rtcc-minio:9000?secure=false&region=us-east-1"
    )
    # The database and the targets read the same password from the same key.
    postgres = rendered.named("StatefulSet", "rtcc-postgresql")
    pg_env = {e["name"]: e for e in postgres["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert pg_env["POSTGRES_PASSWORD"]["valueFrom"] == env["RTCC_DATABASE_PASSWORD"]["valueFrom"]


def test_optional_objects_can_each_be_switched_off(chart: Chart) -> None:
    rendered = chart.render(
        [chart.scenario("default-values")],
        [
            "serviceAccount.create=false",
            "networkPolicy.enabled=false",
            "tests.enabled=false",
            "registry.pdb.create=false",
            "metrics.scrapeAnnotations=false",
        ],
    )
    for kind in ("ServiceAccount", "NetworkPolicy", "Pod"):
        assert rendered.of_kind(kind) == [], kind
    assert "registry" not in rendered.by_component("PodDisruptionBudget")
    for deployment in rendered.workloads():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == "default"
        assert (
            "prometheus.io/scrape" not in deployment["spec"]["template"]["metadata"]["annotations"]
        )
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, chart.kube_version, strict=True)
