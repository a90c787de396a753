"""Policy checks over rendered manifests: each returns its violations (empty: it holds).

Functions, not assertions, so a test can break a rendered object on purpose and see the
check report it. "Platform" workloads are the ones this repository builds: the gateway and
the services of the service catalogue (``shared.catalog``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.catalog import NAMES
from shared.service import OUTBOX_FLUSH_SECONDS

Manifest = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
SERVICE_NAMES = NAMES
PLATFORM = ("gateway", *SERVICE_NAMES)
WORKLOADS = ("Deployment", "StatefulSet", "Job")
NAME = "app.kubernetes.io/name"
# Credentials live in Secrets; a setting with one of these names never has a literal value.
SECRET_KEYS = re.compile(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|AMQP_URL|ACCESS_KEY")
# The tag scheme of the images this repository builds: the release version, or the version
# and the short git revision it was built from. Never `latest`.
IMAGE_TAG = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9a-f]{7,40})?$")


def of_kind(objects: list[Manifest], kind: str) -> list[Manifest]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[Manifest], kind: str, name: str) -> Manifest | None:
    return next((o for o in of_kind(objects, kind) if o["metadata"]["name"] == name), None)


def pods(objects: list[Manifest]) -> Iterator[tuple[str, dict[str, Any], Manifest]]:
    """(workload name, pod template, workload) for every workload."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            yield obj["metadata"]["name"], obj["spec"]["template"], obj


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def app_container(template: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in template["spec"]["containers"] if c["name"] == "app")


def config_of(objects: list[Manifest], container: dict[str, Any]) -> dict[str, str]:
    """The ConfigMap values a container reads through envFrom."""
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config = named(objects, "ConfigMap", source["configMapRef"]["name"])
            values.update((config or {}).get("data", {}))
    return values


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return not selector.get("matchExpressions") and all(
        labels.get(k) == v for k, v in wanted.items())


def check_platform_present(objects: list[Manifest]) -> list[str]:
    return [f"Deployment/{name}: missing" for name in PLATFORM
            if named(objects, "Deployment", name) is None]


def check_probes(objects: list[Manifest]) -> list[str]:
    out = []
    for name, template, obj in pods(objects):
        if name not in PLATFORM or obj["kind"] != "Deployment":
            continue
        app = app_container(template)
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            if app.get(probe, {}).get("httpGet", {}).get("path") != path:
                out.append(f"{name}: no {probe} on {path}")
    return out


def check_resources(objects: list[Manifest]) -> list[str]:
    out = []
    for name, template, _ in pods(objects):
        for container in containers(template["spec"]):
            for bound in ("requests", "limits"):
                given = container.get("resources", {}).get(bound, {})
                out += [f"{name}/{container['name']}: no {bound}.{what}"
                        for what in ("cpu", "memory") if what not in given]
    return out


def check_security(objects: list[Manifest]) -> list[str]:
    """The "restricted" Pod Security Standard, for every pod; a read-only root filesystem
    for the platform's own containers."""
    out = []
    for name, template, _ in pods(objects):
        spec = template["spec"]
        pod_context = spec.get("securityContext", {})
        for container in containers(spec):
            where, context = f"{name}/{container['name']}", container.get("securityContext", {})
            if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
                out.append(f"{where}: may run as root")
            seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                out.append(f"{where}: no RuntimeDefault seccomp profile")
            if context.get("allowPrivilegeEscalation") is not False:
                out.append(f"{where}: privilege escalation allowed")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                out.append(f"{where}: capabilities not all dropped")
            if name in PLATFORM and not context.get("readOnlyRootFilesystem"):
                out.append(f"{where}: root filesystem writable")
    return out


def check_disruption_budgets(objects: list[Manifest]) -> list[str]:
    budgets = of_kind(objects, "PodDisruptionBudget")
    return [f"Deployment/{name}: no PodDisruptionBudget selects it"
            for name, template, obj in pods(objects) if obj["kind"] == "Deployment"
            and not any(selects(b["spec"]["selector"], template["metadata"]["labels"])
                        for b in budgets)]


def check_services(objects: list[Manifest]) -> list[str]:
    """Each platform Deployment: a ClusterIP Service of its name selecting its pods, on a
    port the app container declares."""
    out = []
    for name, template, obj in pods(objects):
        if name not in PLATFORM or obj["kind"] != "Deployment":
            continue
        service = named(objects, "Service", name)
        ports = {p["name"] for p in app_container(template).get("ports", [])}
        if service is None:
            out.append(f"{name}: no Service")
        elif service["spec"].get("type", "ClusterIP") != "ClusterIP":
            out.append(f"{name}: Service is {service['spec']['type']}, not ClusterIP")
        elif not selects({"matchLabels": service["spec"]["selector"]},
                         template["metadata"]["labels"]):
            out.append(f"{name}: Service does not select its pods")
        elif any(p["targetPort"] not in ports for p in service["spec"]["ports"]):
            out.append(f"{name}: Service targets a port the container does not declare")
    return out


def check_autoscaling(objects: list[Manifest]) -> list[str]:
    out = []
    for target, minimum in (("telematics", 2), ("gateway", 1), ("chat", 1)):
        hpas = [h for h in of_kind(objects, "HorizontalPodAutoscaler")
                if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1",
                                                   "kind": "Deployment", "name": target}]
        if not hpas:
            out.append(f"{target}: no HorizontalPodAutoscaler")
        for hpa in hpas:
            if hpa["apiVersion"] != "autoscaling/v2":
                out.append(f"{target}: HPA is {hpa['apiVersion']}")
            if hpa["spec"].get("minReplicas", 1) < minimum:
                out.append(f"{target}: HPA minReplicas below {minimum}")
            if not any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"]["metrics"]):
                out.append(f"{target}: HPA not on CPU")
            if "replicas" in (named(objects, "Deployment", target) or {}).get("spec", {}):
                out.append(f"{target}: replicas set beside its HPA (reset at every apply)")
    return out


def check_service_accounts(objects: list[Manifest]) -> list[str]:
    out = [f"ServiceAccount/{sa['metadata']['name']}: token mounted"
           for sa in of_kind(objects, "ServiceAccount")
           if sa.get("automountServiceAccountToken") is not False]
    for name, template, _ in pods(objects):
        account = template["spec"].get("serviceAccountName", "default")
        if named(objects, "ServiceAccount", account) is None:
            out.append(f"{name}: runs as ServiceAccount {account}, not its own")
    return out


def check_no_literal_credentials(objects: list[Manifest]) -> list[str]:
    """No Secret object at all (the operator creates them), and no credential by value."""
    out = [f"Secret/{s['metadata']['name']}: committed" for s in of_kind(objects, "Secret")]
    for config in of_kind(objects, "ConfigMap"):
        for key, value in config.get("data", {}).items():
            if SECRET_KEYS.search(key) or urlsplit(value).password:
                out.append(f"ConfigMap/{config['metadata']['name']}: {key} holds a credential")
    for name, template, _ in pods(objects):
        for container in containers(template["spec"]):
            out += [f"{name}/{container['name']}: {env['name']} given by value"
                    for env in container.get("env", [])
                    if SECRET_KEYS.search(env["name"]) and "value" in env]
    return out


def check_images(objects: list[Manifest]) -> list[str]:
    """Every image pinned; the platform's own are ``[<registry>/]<app>:<version>`` or
    ``:<version>-<short sha>`` of the app the workload runs (README, "Images")."""
    out = []
    for name, template, _ in pods(objects):
        for container in containers(template["spec"]):
            image = container["image"]
            reference, _, digest = image.partition("@")
            repository, _, tag = reference.rsplit("/", 1)[-1].partition(":")
            if not digest and tag in ("", "latest"):
                out.append(f"{name}/{container['name']}: image {image} not pinned")
            elif name in PLATFORM and (repository != name
                                       or not (digest or IMAGE_TAG.match(tag))):
                out.append(f"{name}/{container['name']}: image {image} is not {name}:<version>")
    return out


def uvicorn_grace_seconds() -> float:
    """``--timeout-graceful-shutdown`` in the command of the one image recipe."""
    dockerfile = ROOT / "Dockerfile"
    found = re.search(r'"--timeout-graceful-shutdown",\s*"(\d+)"', dockerfile.read_text())
    if found is None:
        raise ValueError(f"{dockerfile}: no --timeout-graceful-shutdown")
    return float(found.group(1))


def check_shutdown(objects: list[Manifest]) -> list[str]:
    """The kubelet's SIGKILL comes after every phase of a graceful stop: the preStop sleep,
    uvicorn's requests in flight, then (services) the event handlers' drain and the last
    outbox flush."""
    out = []
    for name, template, _ in pods(objects):
        if name not in PLATFORM:
            continue
        app = app_container(template)
        command = app.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        if len(command) != 2 or command[0] != "sleep":
            out.append(f"{name}: no preStop sleep")
            continue
        needed = float(command[1]) + uvicorn_grace_seconds()
        if name != "gateway":
            needed += float(config_of(objects, app)["SHUTDOWN_TIMEOUT_SECONDS"])
            needed += OUTBOX_FLUSH_SECONDS
        granted = template["spec"].get("terminationGracePeriodSeconds", 30)
        if granted <= needed:
            out.append(f"{name}: terminationGracePeriodSeconds {granted} <= {needed:g} s "
                       "of graceful shutdown")
    return out


def check_migrations(objects: list[Manifest]) -> list[str]:
    """Each service migrates in an init container, and its app does not again."""
    out = []
    for name in SERVICE_NAMES:
        deployment = named(objects, "Deployment", name)
        if deployment is None:
            continue
        template = deployment["spec"]["template"]
        commands = [c.get("command") for c in template["spec"].get("initContainers", [])]
        if ["python", "-m", "shared.migrate", name] not in commands:
            out.append(f"{name}: no init container running shared.migrate {name}")
        if config_of(objects, app_container(template)).get("MIGRATE_ON_STARTUP") != "false":
            out.append(f"{name}: the app migrates at start-up too")
    return out


def check_ingress(objects: list[Manifest]) -> list[str]:
    """The gateway is the one thing exposed, with the chat WebSocket's route and timeouts."""
    out = [f"Service/{s['metadata']['name']}: type {s['spec']['type']}"
           for s in of_kind(objects, "Service") if s["spec"].get("type", "ClusterIP")
           != "ClusterIP"]
    ingresses = of_kind(objects, "Ingress")
    paths = [p for i in ingresses for r in i["spec"]["rules"] for p in r["http"]["paths"]]
    out += [f"Ingress path {p['path']}: to {p['backend']['service']['name']}"
            for p in paths if p["backend"]["service"]["name"] != "gateway"]
    if "/chat/ws" not in {p["path"] for p in paths}:
        out.append("Ingress: no /chat/ws route")
    for ingress in ingresses:
        notes = ingress["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            if int(notes.get(f"nginx.ingress.kubernetes.io/{key}", "60")) < 3600:
                out.append(f"Ingress: {key} cuts an idle WebSocket")
        if notes.get("nginx.ingress.kubernetes.io/proxy-http-version") != "1.1":
            out.append("Ingress: not HTTP/1.1 upstream (no WebSocket upgrade)")
    return out
