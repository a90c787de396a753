"""The Kubernetes manifests, rendered by kubectl and checked without a cluster.

Each check in ``policies`` and ``network`` returns its violations; the rendered overlays
must have none, and a broken object must be reported (the mutation tests), so no check
passes for want of looking.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

import pytest

from . import network, policies
from .manifests import OVERLAYS, KubectlMissing, Manifest, render, schema_errors

Check = Callable[[list[Manifest]], list[str]]

EVERY_OVERLAY: tuple[Check, ...] = (
    policies.check_platform_present, policies.check_probes, policies.check_resources,
    policies.check_security, policies.check_disruption_budgets, policies.check_services,
    policies.check_service_accounts, policies.check_images, policies.check_shutdown,
    policies.check_migrations, policies.check_ingress,
    network.check_default_deny, network.check_ingress_isolation,
    network.check_egress_isolation, network.check_peer_settings, network.check_span_export,
)
PRODUCTION_ONLY: tuple[Check, ...] = (
    policies.check_autoscaling, policies.check_no_literal_credentials)


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    try:
        return request.param, render(request.param)
    except KubectlMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def production() -> list[Manifest]:
    try:
        return render("production")
    except KubectlMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def test_every_object_is_valid_against_the_kubernetes_schemas(
        overlay: tuple[str, list[Manifest]]) -> None:
    assert schema_errors(overlay[1]) == []


@pytest.mark.parametrize("check", EVERY_OVERLAY, ids=lambda check: check.__name__)
def test_the_overlay_meets_the_policy(overlay: tuple[str, list[Manifest]], check: Check) -> None:
    assert check(overlay[1]) == []


@pytest.mark.parametrize("check", PRODUCTION_ONLY, ids=lambda check: check.__name__)
def test_production_meets_the_policy(production: list[Manifest], check: Check) -> None:
    assert check(production) == []


def test_production_runs_two_of_everything(production: list[Manifest]) -> None:
    # But Redis: two independent ones would each count half of the login failures.
    autoscaled = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
                  for h in policies.of_kind(production, "HorizontalPodAutoscaler")}
    for deployment in policies.of_kind(production, "Deployment"):
        name = deployment["metadata"]["name"]
        if name == "redis":
            continue
        assert autoscaled.get(name, deployment["spec"].get("replicas", 1)) >= 2, name


def test_dev_runs_one_of_each_with_throwaway_credentials() -> None:
    objects = _render_or_skip("dev")
    assert policies.of_kind(objects, "HorizontalPodAutoscaler") == []
    for workload in objects:
        if workload["kind"] in ("Deployment", "StatefulSet"):
            assert workload["spec"]["replicas"] == 1, workload["metadata"]["name"]
    for secret in policies.of_kind(objects, "Secret"):
        assert secret["metadata"]["labels"]["membership-auto/credentials"] == "dev-throwaway"


def test_dev_sends_every_platform_pods_spans_to_its_collector() -> None:
    objects = _render_or_skip("dev")
    for name in policies.PLATFORM:
        deployment = policies.named(objects, "Deployment", name)
        assert deployment is not None
        config = policies.config_of(objects, policies.app_container(
            deployment["spec"]["template"]))
        assert config.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4318", name
    assert network.check_span_export(objects) == []
    cut = [o for o in objects if o["metadata"]["name"] != "gateway-to-otel-collector"]
    assert network.check_span_export(cut) == ["gateway: no egress to otel-collector:4318"]


def test_the_validator_refuses_a_malformed_object(production: list[Manifest]) -> None:
    broken = copy.deepcopy(policies.named(production, "Deployment", "telematics"))
    assert broken is not None
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {}
    broken["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "sixty"
    errors = schema_errors([broken])
    assert len(errors) == 1 and errors[0].startswith("Deployment/telematics:")


def test_a_deployment_without_its_readiness_probe_is_reported(
        production: list[Manifest]) -> None:
    mutated = copy.deepcopy(production)
    telematics = policies.named(mutated, "Deployment", "telematics")
    assert telematics is not None
    del policies.app_container(telematics["spec"]["template"])["readinessProbe"]
    assert policies.check_probes(production) == []
    assert policies.check_probes(mutated) == ["telematics: no readinessProbe on /readyz"]


def test_a_service_reached_by_a_service_that_does_not_call_it_is_reported(
        production: list[Manifest]) -> None:
    mutated = copy.deepcopy(production)
    policy = policies.named(mutated, "NetworkPolicy", "telematics")
    assert policy is not None
    policy["spec"]["ingress"][0]["from"].append(
        {"podSelector": {"matchLabels": {policies.NAME: "files"}}})
    assert network.check_ingress_isolation(mutated) == [
        "telematics: ingress from {'podSelector': {'matchLabels': "
        "{'app.kubernetes.io/name': 'files'}}}"]


def test_a_service_missing_from_the_manifests_is_reported(production: list[Manifest]) -> None:
    mutated = [obj for obj in copy.deepcopy(production)
               if obj["metadata"].get("name") != "files" or obj["kind"] != "Deployment"]
    gateway = policies.named(mutated, "Deployment", "gateway")
    assert gateway is not None
    config = next(obj for obj in mutated if obj["kind"] == "ConfigMap"
                  and "UPSTREAM_FILES" in obj.get("data", {}))
    del config["data"]["UPSTREAM_FILES"]
    assert policies.check_platform_present(mutated) == ["Deployment/files: missing"]
    assert "gateway: UPSTREAM_FILES is not http://files:8000" in network.check_peer_settings(
        mutated)


def test_an_image_off_the_tag_scheme_is_reported(production: list[Manifest]) -> None:
    mutated = copy.deepcopy(production)
    chat = policies.named(mutated, "Deployment", "chat")
    assert chat is not None
    policies.app_container(chat["spec"]["template"])["image"] = "membership-auto/chat:dev"
    assert policies.check_images(production) == []
    assert policies.check_images(mutated) == [
        "chat/app: image membership-auto/chat:dev is not chat:<version>"]


def test_a_committed_production_secret_is_reported(production: list[Manifest]) -> None:
    leaked = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth-database"},
              "stringData": {"DATABASE_URL": "postgresql://u:p@db/auth"}}
    assert policies.check_no_literal_credentials([*production, leaked]) == [
        "Secret/auth-database: committed"]


def _render_or_skip(overlay: str) -> list[Manifest]:
    try:
        return render(overlay)
    except KubectlMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
