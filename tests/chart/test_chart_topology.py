"""The topology the multi-replica drills proved: ingest as a StatefulSet with a claim
per pod for its spool and a headless Service, replicas that advertise their own
addresses (ingest: pod DNS name; playback: pod IP) so calls follow leases and sessions."""

from __future__ import annotations

from typing import Any

import yaml

from rtcc.capacity.cli import helm_values
from rtcc.capacity.model import Demand, plan

Obj = dict[str, Any]


def _env(workload: Obj) -> list[Obj]:
    env: list[Obj] = workload["spec"]["template"]["spec"]["containers"][0]["env"]
    return env


def _value(workload: Obj, name: str) -> Any:
    return next(e for e in _env(workload) if e["name"] == name).get("value")


def test_ingest_is_a_statefulset_with_a_spool_claim_per_pod_and_a_headless_service(
    chart: Any,
) -> None:
    rendered = chart.render([chart.scenario("production-values")])
    ingest = rendered.named("StatefulSet", "rtcc-ingest")
    spec = ingest["spec"]
    assert spec["serviceName"] == "rtcc-ingest-headless"
    assert spec["podManagementPolicy"] == "Parallel"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    pod = spec["template"]["spec"]
    assert "data" not in {v["name"] for v in pod["volumes"]}, "no emptyDir for the spool"
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    (config_map,) = rendered.of_kind("ConfigMap")
    assert mounts["data"] == config_map["data"]["RTCC_DATA_DIR"]
    (headless,) = rendered.headless_services()
    assert headless["metadata"]["name"] == "rtcc-ingest-headless"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"] == spec["selector"]["matchLabels"]
    assert [p["port"] for p in headless["spec"]["ports"]] == [50051]
    hpa = rendered.named("HorizontalPodAutoscaler", "rtcc-ingest")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"


def test_replicas_advertise_addresses_built_from_their_own_pod(chart: Any) -> None:
    rendered = chart.render([chart.scenario("default-values")])
    ingest = rendered.named("StatefulSet", "rtcc-ingest")
    names = [e["name"] for e in _env(ingest)]
    # $(POD_NAME) expands only when defined earlier in the list.
    assert names.index("POD_NAME") < names.index("RTCC_INGEST__ADVERTISE_ADDRESS")
    assert _value(ingest, "RTCC_INGEST__ADVERTISE_ADDRESS") == (
        "$(POD_NAME).rtcc-ingest-headless.rtcc.svc:50051"
    )
    assert _value(ingest, "RTCC_INGEST__REPLICA_ID") == "$(POD_NAME)"
    playback = rendered.named("Deployment", "rtcc-playback")
    names = [e["name"] for e in _env(playback)]
    assert names.index("POD_IP") < names.index("RTCC_PLAYBACK__ADVERTISE_ADDRESS")
    assert _value(playback, "RTCC_PLAYBACK__ADVERTISE_ADDRESS") == "$(POD_IP):50051"
    assert _value(playback, "RTCC_PLAYBACK__ADVERTISE_URL") == "http://$(POD_IP):8080"
    registry = rendered.named("Deployment", "rtcc-registry")
    assert not {"POD_IP", "POD_NAME"} & {e["name"] for e in _env(registry)}


def test_ingest_without_persistence_falls_back_to_an_empty_dir(chart: Any) -> None:
    rendered = chart.render(
        [chart.scenario("default-values")], ["ingest.persistence.enabled=false"]
    )
    spec = rendered.named("StatefulSet", "rtcc-ingest")["spec"]
    assert "volumeClaimTemplates" not in spec
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes["data"]


def test_a_bad_spool_size_or_access_mode_is_refused(chart: Any) -> None:
    for bad in ("ingest.persistence.size=lots", "ingest.persistence.accessModes[0]=Sometimes"):
        error = chart.render_error([chart.scenario("default-values")], [bad])
        assert "persistence" in error, error


def test_the_planners_helm_values_render_the_planned_replicas(chart: Any, tmp_path: Any) -> None:

    city = plan(Demand(cameras=1000, bitrate_bps=2e6, retention_days=30, analytics_share=0.2))
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(helm_values(city)))
    rendered = chart.render([chart.scenario("default-values"), path])
    ingest = rendered.named("StatefulSet", "rtcc-ingest")
    assert ingest["spec"]["replicas"] == city.target("ingest").replicas
    (claim,) = ingest["spec"]["volumeClaimTemplates"]
    assert (
        claim["spec"]["resources"]["requests"]["storage"]
        == helm_values(city)["ingest"]["persistence"]["size"]
    )
    analytics = rendered.named("Deployment", "rtcc-analytics")
    assert analytics["spec"]["replicas"] == city.target("analytics").replicas
    (config_map,) = rendered.of_kind("ConfigMap")
    config = config_map["data"]
    assert config["RTCC_INGEST__MAX_CAMERAS"] == str(city.ingest_max_cameras)
    assert city.ingest_max_cameras * city.target("ingest").replicas > 1000, "room for a failure"
