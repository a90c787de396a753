"""NetworkPolicy checks: who may reach a platform pod, and what it may reach.

The peers a service calls are read from its rendered ConfigMap (every ``http://<service>:``
URL in it), and :func:`check_peer_settings` holds that list to the service catalogue
(``shared.catalog``), so a peer added there without its URL in the ConfigMap (hence without
its policies) fails, and so does a URL the catalogue does not list.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from shared.catalog import SERVICES

from .policies import (
    NAME,
    PLATFORM,
    SERVICE_NAMES,
    Manifest,
    app_container,
    config_of,
    named,
    of_kind,
    pods,
    selects,
)

DNS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
       "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
INGRESS_CONTROLLER = {"namespaceSelector": {"matchLabels": {
    "kubernetes.io/metadata.name": "ingress-nginx"}}}
ALL_SERVICES = {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "service"}}}
HTTP_PORTS = ({"port": "http", "protocol": "TCP"}, {"port": 8000, "protocol": "TCP"})
# Outside the cluster, by port: the managed broker (AMQPS) and, for files only, S3.
EXTERNAL_PORTS = {name: {5671} for name in SERVICE_NAMES} | {"files": {5671, 443}}
# Every platform pod may also send its spans to the collector, where an overlay has one.
INFRASTRUCTURE = {name: {"pgbouncer", "rabbitmq", "otel-collector"} for name in SERVICE_NAMES}
INFRASTRUCTURE["files"] = {"pgbouncer", "rabbitmq", "minio", "otel-collector"}
INFRASTRUCTURE["gateway"] = {"redis", "otel-collector"}


def peer_calls(objects: list[Manifest]) -> dict[str, set[str]]:
    """Platform component -> the platform services it calls, from its ConfigMap's URLs."""
    calls: dict[str, set[str]] = {}
    for name in PLATFORM:
        deployment = named(objects, "Deployment", name)
        if deployment is None:
            continue
        hosts = {urlsplit(value).hostname for value in
                 config_of(objects, app_container(deployment["spec"]["template"])).values()
                 if value.startswith("http://")}
        calls[name] = {host for host in hosts if host in SERVICE_NAMES}
    return calls


def rules_for(objects: list[Manifest], labels: dict[str, str], direction: str
              ) -> list[dict[str, Any]]:
    """The allow rules (``ingress`` or ``egress``) that apply to pods with ``labels``."""
    policy_type = direction.capitalize()
    return [rule for policy in of_kind(objects, "NetworkPolicy")
            if policy_type in policy["spec"].get("policyTypes", [])
            and selects(policy["spec"]["podSelector"], labels)
            for rule in policy["spec"].get(direction, [])]


def check_default_deny(objects: list[Manifest]) -> list[str]:
    denies = [p for p in of_kind(objects, "NetworkPolicy") if p["spec"]["podSelector"] == {}
              and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
              and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    return [] if denies else ["no default-deny NetworkPolicy (ingress and egress)"]


def check_ingress_isolation(objects: list[Manifest]) -> list[str]:
    """A service's HTTP port: from the gateway and the services that call it; the gateway's:
    from the ingress controller; nothing else, on no other port."""
    calls, out = peer_calls(objects), []
    for name, template, _ in pods(objects):
        if name not in PLATFORM:
            continue
        callers = {"gateway"} | {c for c, callees in calls.items() if name in callees}
        for rule in rules_for(objects, template["metadata"]["labels"], "ingress"):
            if not rule.get("ports") or any(p not in HTTP_PORTS for p in rule["ports"]):
                out.append(f"{name}: ingress not limited to its HTTP port")
            for peer in rule.get("from") or [{"everyone": True}]:
                if name == "gateway" and peer == INGRESS_CONTROLLER:
                    continue
                source = peer.get("podSelector", {}).get("matchLabels", {}).get(NAME)
                if name == "gateway" or set(peer) != {"podSelector"} or source not in callers:
                    out.append(f"{name}: ingress from {peer}")
    return out


def check_egress_isolation(objects: list[Manifest]) -> list[str]:
    """DNS, its infrastructure, the peers it calls, and outside the cluster only by the
    managed services' ports."""
    calls, out = peer_calls(objects), []
    for name, template, _ in pods(objects):
        if name not in PLATFORM:
            continue
        reachable = INFRASTRUCTURE[name] | calls.get(name, set())
        for rule in rules_for(objects, template["metadata"]["labels"], "egress"):
            ports = {p.get("port") for p in rule.get("ports", [])}
            if not ports:
                out.append(f"{name}: egress on every port")
            for peer in rule.get("to") or [{"everywhere": True}]:
                target = peer.get("podSelector", {}).get("matchLabels", {}).get(NAME)
                allowed = (peer == DNS and ports == {53}
                           or set(peer) == {"podSelector"} and target in reachable
                           or name == "gateway" and peer == ALL_SERVICES
                           or set(peer) == {"ipBlock"} and ports <= EXTERNAL_PORTS.get(name, set()))
                if not allowed:
                    out.append(f"{name}: egress to {peer} on {sorted(map(str, ports))}")
    return out


def check_peer_settings(objects: list[Manifest]) -> list[str]:
    """Each service's ConfigMap names exactly its catalogue peers at their in-cluster
    addresses (and auth's, for JWKS_URL, but on auth), and the gateway's has an upstream
    for every service, so ``peer_calls`` (and the policies it is held to) misses no call."""
    out = []
    calls = peer_calls(objects)
    for service in SERVICES:
        deployment = named(objects, "Deployment", service.name)
        if deployment is None:
            continue
        config = config_of(objects, app_container(deployment["spec"]["template"]))
        wanted = {f"{peer.upper()}_URL": peer for peer in service.peers}
        if service.name != "auth":
            wanted["JWKS_URL"] = "auth"
        out += [f"{service.name}: {key} is not http://{peer}:8000"
                for key, peer in sorted(wanted.items())
                if not config.get(key, "").startswith(f"http://{peer}:8000")]
        extra = calls.get(service.name, set()) - set(wanted.values())
        out += [f"{service.name}: calls {peer}, not a peer in the catalogue"
                for peer in sorted(extra)]
    gateway = named(objects, "Deployment", "gateway")
    if gateway is not None:
        config = config_of(objects, app_container(gateway["spec"]["template"]))
        out += [f"gateway: UPSTREAM_{s.name.upper()} is not http://{s.name}:8000"
                for s in SERVICES
                if config.get(f"UPSTREAM_{s.name.upper()}") != f"http://{s.name}:8000"]
    return out


def check_span_export(objects: list[Manifest]) -> list[str]:
    """A platform pod told to send its spans (``OTEL_EXPORTER_OTLP_ENDPOINT``) can: the
    collector's Service exists, the pod's egress to it on that port and the collector's
    ingress from the pod are allowed."""
    out = []
    for name, template, _ in pods(objects):
        if name not in PLATFORM:
            continue
        endpoint = config_of(objects, app_container(template)).get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if not endpoint:
            continue
        url = urlsplit(endpoint)
        service = named(objects, "Service", url.hostname or "")
        if service is None:
            out.append(f"{name}: spans go to {url.hostname}, which is no Service")
            continue
        collector = {"matchLabels": service["spec"]["selector"]}
        labels = template["metadata"]["labels"]
        if not any("podSelector" in peer and selects(peer["podSelector"], collector["matchLabels"])
                   and url.port in {p.get("port") for p in rule.get("ports", [])}
                   for rule in rules_for(objects, labels, "egress") for peer in rule.get("to", [])):
            out.append(f"{name}: no egress to {url.hostname}:{url.port}")
        if not any("podSelector" in peer and selects(peer["podSelector"], labels)
                   for rule in rules_for(objects, collector["matchLabels"], "ingress")
                   for peer in rule.get("from", [])):
            out.append(f"{name}: {url.hostname} takes no spans from it")
    return out
