"""The analytics GPU request and the detectors' execution provider come from one value."""

from __future__ import annotations

from typing import Any

from .conftest import Chart


def _analytics(chart: Chart, sets: list[str]) -> dict[str, Any]:
    rendered = chart.render([chart.scenario("default-values")], sets)
    container: dict[str, Any] = rendered.by_component("workload")["analytics"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    return container


def _env(container: dict[str, Any]) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _provider(container: dict[str, Any]) -> str | None:
    return _env(container).get("RTCC_ANALYTICS__EXECUTION_PROVIDER")


def test_analytics_runs_on_the_cpu_without_gpus(chart: Chart) -> None:
    container = _analytics(chart, [])
    assert _provider(container) == "cpu"
    assert "nvidia.com/gpu" not in container["resources"].get("limits", {})


def test_gpus_are_requested_and_used(chart: Chart) -> None:
    container = _analytics(chart, ["analytics.accelerator.gpus=1"])
    assert _provider(container) == "auto"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["resources"]["limits"]["memory"] == "4Gi"  # the other limits stay
    pinned = _analytics(
        chart, ["analytics.accelerator.gpus=2", "analytics.accelerator.executionProvider=cuda"]
    )
    assert _provider(pinned) == "cuda" and pinned["resources"]["limits"]["nvidia.com/gpu"] == 2


def test_a_wrong_provider_is_refused(chart: Chart) -> None:
    error = chart.render_error(
        [chart.scenario("default-values")], ["analytics.accelerator.executionProvider=tpu"]
    )
    assert "executionProvider" in error


def test_the_object_runtime_is_the_services_default_unless_set(chart: Chart) -> None:
    assert "RTCC_ANALYTICS__OBJECT_RUNTIME" not in _env(_analytics(chart, []))
    pinned = _analytics(chart, ["analytics.accelerator.objectRuntime=onnxruntime"])
    assert _env(pinned)["RTCC_ANALYTICS__OBJECT_RUNTIME"] == "onnxruntime"
    error = chart.render_error(
        [chart.scenario("default-values")], ["analytics.accelerator.objectRuntime=tensorrt"]
    )
    assert "objectRuntime" in error
