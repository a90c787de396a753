"""Render the overlays with ``kubectl kustomize`` and validate every object offline.

``make k8s`` runs this file (a count of objects by kind and the validator's result for
each overlay), then the policy tests. The schemas are the Kubernetes OpenAPI ones that
the ``kubernetes-validate`` package ships, so nothing is fetched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

K8S_DIR = Path(__file__).resolve().parent.parent / "k8s"
OVERLAYS = ("dev", "production")
# The oldest minor version still in the main providers' standard support when this was
# written; an object valid here is valid on the newer ones the package knows.
KUBERNETES_VERSION = "1.30.0"

Manifest = dict[str, Any]


class KubectlMissing(RuntimeError):
    """No ``kubectl`` on PATH: nothing can be rendered."""


def render(overlay: str) -> list[Manifest]:
    """The objects ``kubectl kustomize deploy/k8s/overlays/<overlay>`` prints."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise KubectlMissing("kubectl is not installed (it renders the kustomize overlays)")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def schema_errors(objects: list[Manifest], version: str = KUBERNETES_VERSION) -> list[str]:
    """One line per object the Kubernetes schemas refuse (strict: no unknown fields)."""
    import kubernetes_validate

    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name_of(obj)}: {exc.message} at {'/'.join(map(str, exc.path))}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{name_of(obj)}: no schema ({exc})")
    return errors


def name_of(obj: Manifest) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def main() -> int:
    failed = False
    for overlay in OVERLAYS:
        objects = render(overlay)
        kinds = ", ".join(f"{kind} {count}" for kind, count in
                          sorted(Counter(obj["kind"] for obj in objects).items()))
        errors = schema_errors(objects)
        print(f"{overlay}: {len(objects)} objects ({kinds})")
        print(f"{overlay}: {len(objects) - len(errors)} valid, {len(errors)} invalid "
              f"against Kubernetes {KUBERNETES_VERSION} (strict)")
        for error in errors:
            print(f"  {error}")
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
