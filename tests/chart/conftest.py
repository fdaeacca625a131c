"""Render the Helm chart with the real `helm` binary and hand tests the parsed objects.

helm is one of the project's tools (built by `make deps` into $RTCC_TOOLS/bin, default
~/.cache/rtcc/bin). A missing helm fails these tests: the chart is never left untested.
Tests get everything through fixtures (pytest runs with --import-mode=importlib, so
test modules cannot import helper modules beside them).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "rtcc"
SCENARIOS = sorted((CHART / "ci").glob("*.yaml"))

Obj = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """The objects one `helm template` produced, with the lookups tests need."""

    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Obj:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def workloads(self) -> list[Obj]:
        """The Deployments, and the StatefulSets of targets (ingest): not the bundled
        backends' StatefulSets."""

        def serves(obj: Obj) -> bool:
            containers = obj["spec"]["template"]["spec"]["containers"]
            return bool(containers[0].get("args", [None])[0] == "serve")

        return self.of_kind("Deployment") + [o for o in self.of_kind("StatefulSet") if serves(o)]

    def headless_services(self) -> list[Obj]:
        return [o for o in self.of_kind("Service") if o["spec"].get("clusterIP") == "None"]

    def by_component(self, kind: str) -> dict[str, Obj]:
        """One object of `kind` per component ("workload": Deployment or StatefulSet;
        "Service": the load-balanced one, not the per-pod headless Service)."""
        found: dict[str, Obj] = {}
        objects = self.workloads() if kind == "workload" else self.of_kind(kind)
        if kind == "Service":
            objects = [o for o in objects if o not in self.headless_services()]
        for obj in objects:
            component = obj["metadata"]["labels"]["app.kubernetes.io/component"]
            assert component not in found, f"two {kind}s for {component}"
            found[component] = obj
        return found

    def pod_specs(self) -> Iterator[tuple[str, Obj]]:
        """Every pod spec: the workloads' templates and bare Pods (the helm test)."""
        for obj in self.objects:
            name = f"{obj['kind']}/{obj['metadata']['name']}"
            if obj["kind"] in {"Deployment", "StatefulSet"}:
                yield name, obj["spec"]["template"]["spec"]
            elif obj["kind"] == "Pod":
                yield name, obj["spec"]


@dataclass(frozen=True)
class Chart:
    """helm/rtcc and the helm binary that renders it."""

    path: Path
    helm: Path
    release: str = "rtcc"
    namespace: str = "rtcc"
    # The oldest Kubernetes still supported upstream that the chart (kubeVersion
    # >=1.27) and kubernetes-validate's bundled schemas both cover.
    kube_version: str = "1.30.0"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.helm), *args], capture_output=True, text=True, timeout=120, check=False
        )

    def scenario(self, stem: str) -> Path:
        path = self.path / "ci" / f"{stem}.yaml"
        assert path.exists(), f"missing scenario {path}"
        return path

    def template(self, values: list[Path], sets: list[str]) -> subprocess.CompletedProcess[str]:
        args = ["template", self.release, str(self.path), "--namespace", self.namespace]
        args += ["--kube-version", self.kube_version]
        for path in values:
            args += ["--values", str(path)]
        for item in sets:
            args += ["--set", item]
        return self.run(*args)

    def lint(self, values: Path) -> subprocess.CompletedProcess[str]:
        return self.run(
            "lint", "--strict", str(self.path), "--values", str(values),
            "--kube-version", self.kube_version,
        )  # fmt: skip

    def render(self, values: list[Path], sets: list[str] | None = None) -> Rendered:
        result = self.template(values, sets or [])
        assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
        return Rendered([doc for doc in yaml.safe_load_all(result.stdout) if doc])

    def render_error(self, values: list[Path], sets: list[str]) -> str:
        """Render values the chart must refuse; return helm's error output."""
        result = self.template(values, sets)
        assert result.returncode != 0, f"helm template accepted {sets}:\n{result.stdout[:2000]}"
        return result.stderr


@pytest.fixture(scope="session")
def chart() -> Chart:
    tools = Path(os.environ.get("RTCC_TOOLS", str(Path.home() / ".cache" / "rtcc")))
    helm = tools / "bin" / "helm"
    if not os.access(helm, os.X_OK):
        pytest.fail(
            f"helm not found at {helm}: run `make deps` to build the project's tools "
            "(or point RTCC_TOOLS at a directory with bin/helm).",
            pytrace=False,
        )
    return Chart(path=CHART, helm=helm)


@pytest.fixture(scope="session", params=SCENARIOS, ids=[p.stem for p in SCENARIOS])
def scenario(request: pytest.FixtureRequest) -> Path:
    """Each helm/rtcc/ci/*.yaml scenario."""
    path: Path = request.param
    return path


@pytest.fixture(scope="session")
def rendered(chart: Chart, scenario: Path) -> Rendered:
    return chart.render([scenario])


@pytest.fixture(scope="session")
def scenario_values(scenario: Path) -> Obj:
    values: Obj = yaml.safe_load(scenario.read_text()) or {}
    return values
