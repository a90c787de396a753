"""The images: one recipe for every app, pinned tags, and no credential in the compose file.

Every application service builds from the root Dockerfile with ``SERVICE`` set to its own
name; the recipe derives the folder, the package and the app factory from it, so the
checks below hold the workspace to those rules. Images are tagged (README, "Images"), the
third-party ones by the same exact versions as the Kubernetes dev overlay, and
credentials come from required variables, with throwaway ones in deploy/compose/dev.env.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from .compose import (
    APP_SERVICES,
    COMPOSE,
    DEV_ENV,
    DOCKERFILE,
    GATEWAY,
    K8S_DIR,
    ROOT,
    SERVICES,
    build_of,
    dockerfile_instructions,
    environment_of,
    image_reference,
    interpolate,
)

PLATFORM_REPOSITORY = "membership-auto"
# The release version, or the version and the short git revision; never `latest`.
TAG_SCHEME = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9a-f]{7,40})?$")
# Settings that hold a credential: never a value in the compose file itself.
CREDENTIAL_KEYS = re.compile(r"PASSWORD|_PASS$|SECRET|TOKEN|ACCESS_KEY|ROOT_USER|DEFAULT_USER")
REQUIRED_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
LABELS = ("title", "version", "revision", "source")


def _build_args(name: str) -> dict[str, str]:
    args = SERVICES[name]["build"].get("args") or {}
    if isinstance(args, list):
        args = dict(item.split("=", 1) for item in args)
    return {key: str(value) for key, value in args.items()}


def _member_folder(name: str) -> Path:
    """Where the recipe looks for SERVICE's code (its sources stage says the same)."""
    return ROOT / (GATEWAY if name == GATEWAY else f"services/{name}")


def _k8s_images() -> dict[str, set[str]]:
    """Tags by repository of every container image written in deploy/k8s."""
    found: dict[str, set[str]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("image"), str) and "name" in node:
                repository, tag = image_reference(node["image"])
                found.setdefault(repository, set()).add(tag)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in K8S_DIR.rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            walk(document)
    return found


def _overlay_tags() -> dict[str, dict[str, str]]:
    """newTag by image name, per overlay (kustomize `images:`)."""
    tags = {}
    for kustomization in sorted(K8S_DIR.glob("overlays/*/kustomization.yaml")):
        data = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
        tags[kustomization.parent.name] = {entry["name"]: str(entry.get("newTag", ""))
                                           for entry in data.get("images") or []}
    return tags


def _dev_env() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in DEV_ENV.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# --- one recipe ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_builds_from_the_one_dockerfile_with_its_name(name: str) -> None:
    context, dockerfile = build_of(SERVICES[name])
    assert (context, dockerfile) == (ROOT, DOCKERFILE), (
        f"{name}: must build {DOCKERFILE.name} with the repository root as context")
    assert _build_args(name).get("SERVICE") == name, f"{name}: build.args.SERVICE must be {name!r}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_arg_names_a_workspace_member_the_recipe_can_derive(name: str) -> None:
    folder = _member_folder(name)
    manifest = folder / "pyproject.toml"
    assert manifest.is_file(), f"SERVICE={name}: the recipe copies {folder}, which has no manifest"
    package = tomllib.loads(manifest.read_text(encoding="utf-8"))["project"]["name"]
    assert package == f"ma-{name}", f"SERVICE={name}: installs ma-{name}, the package is {package}"
    app = folder / name / "app.py"
    assert app.is_file() and re.search(r"^def create_app\(", app.read_text(), re.MULTILINE), (
        f"SERVICE={name}: runs {name}.app:create_app, which {app} does not define")


def test_no_other_dockerfile() -> None:
    others = [path.relative_to(ROOT) for path in ROOT.rglob("Dockerfile*")
              if path != DOCKERFILE and ".venv" not in path.parts]
    assert others == [], f"one recipe for every image: remove {others}"


def test_the_recipe_derives_package_and_factory_from_service() -> None:
    instructions = dockerfile_instructions(DOCKERFILE)
    stages = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    final = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    last_stage = instructions[final:]
    assert ("ARG", "SERVICE") in last_stage, "the final stage needs ARG SERVICE"
    syncs = [arguments for keyword, arguments in last_stage
             if keyword == "RUN" and "uv sync" in arguments]
    assert syncs and all('--package "ma-${SERVICE}"' in sync for sync in syncs), syncs
    assert any(keyword == "ENV" and 'UVICORN_APP="${SERVICE}.app:create_app"' in arguments
               for keyword, arguments in last_stage), "the factory must follow from SERVICE"
    assert len(stages) >= 2 and stages[0].startswith("python:3.11-slim")


def test_the_recipe_labels_version_revision_and_source() -> None:
    instructions = dockerfile_instructions(DOCKERFILE)
    declared = {arguments.split("=", 1)[0] for keyword, arguments in instructions
                if keyword == "ARG"}
    assert {"SERVICE", "VERSION", "REVISION", "SOURCE"} <= declared
    labels = " ".join(arguments for keyword, arguments in instructions if keyword == "LABEL")
    for label in LABELS:
        assert f"org.opencontainers.image.{label}=" in labels, f"no {label} label"
    assert 'image.version="${VERSION}"' in labels and 'image.revision="${REVISION}"' in labels
    # A new revision must rebuild the labels only, not the dependency and code layers.
    last_run = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "RUN")
    for i, (keyword, arguments) in enumerate(instructions):
        if keyword == "ARG" and arguments.split("=", 1)[0] in ("VERSION", "REVISION"):
            assert i > last_run, f"ARG {arguments} before a RUN: every build would miss cache"


# --- tags ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_image_is_tagged_and_not_latest(name: str) -> None:
    image = SERVICES[name].get("image")
    if image is None:
        pytest.fail(f"{name}: needs an `image:` (built images are tagged by the tag scheme)")
    repository, tag = image_reference(interpolate(str(image)))
    assert tag not in ("", "latest"), f"{name}: image {image!r} must name an exact version"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_built_image_follows_the_tag_scheme_and_is_labelled_with_its_tag(name: str) -> None:
    image = str(SERVICES[name]["image"])
    repository, tag = image_reference(image)
    assert repository == f"{PLATFORM_REPOSITORY}/{name}", f"{name}: image {image!r}"
    assert TAG_SCHEME.match(interpolate(tag)), f"{name}: tag {tag!r} is not <version>"
    assert _build_args(name).get("VERSION") == tag, (
        f"{name}: the version label and the tag must be the same ({tag!r})")
    assert "REVISION" in _build_args(name), f"{name}: build.args.REVISION (the git revision)"
    # Without it compose first pulls a registry's image of that name, and runs it.
    assert SERVICES[name].get("pull_policy") == "build", f"{name}: pull_policy must be build"


def test_built_images_default_to_the_version_the_k8s_overlays_deploy() -> None:
    for overlay, tags in _overlay_tags().items():
        for name in APP_SERVICES:
            expected = interpolate(image_reference(str(SERVICES[name]["image"]))[1])
            deployed = tags.get(f"{PLATFORM_REPOSITORY}/{name}")
            assert deployed == expected, (
                f"{overlay} overlay deploys {name}:{deployed}, compose builds {name}:{expected}")


def test_third_party_images_are_the_versions_the_k8s_dev_overlay_runs() -> None:
    k8s = _k8s_images()
    third_party = {name: image_reference(str(spec["image"])) for name, spec in SERVICES.items()
                   if name not in APP_SERVICES}
    assert third_party, "no third-party image"
    for name, (repository, tag) in third_party.items():
        assert repository in k8s, f"{name}: {repository} does not run in deploy/k8s"
        assert k8s[repository] == {tag}, (
            f"{name}: compose runs {repository}:{tag}, deploy/k8s {sorted(k8s[repository])}")


# --- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_credential_is_written_in_the_service(name: str) -> None:
    for key, value in environment_of(SERVICES[name]).items():
        if CREDENTIAL_KEYS.search(key):
            assert value == "", f"{name}: {key} has a value in the compose file ({value!r})"
        if "://" in value:
            assert not urlsplit(value).password, f"{name}: {key} has a password in its URL"
    text = json.dumps(SERVICES[name])
    for default in ("guest:guest", "minioadmin"):
        assert default not in text, f"{name}: uses the image's default credential {default}"


def test_the_main_file_never_loads_the_dev_credentials_by_itself() -> None:
    for name, spec in SERVICES.items():
        env_files = spec.get("env_file") or []
        env_files = [env_files] if isinstance(env_files, str | dict) else env_files
        for env_file in env_files:
            path = env_file.get("path", "") if isinstance(env_file, dict) else env_file
            assert (ROOT / interpolate(path)).resolve() != DEV_ENV, (
                f"{name}: loads {DEV_ENV.name}; development passes it with --env-file")


def test_dev_env_sets_exactly_the_required_variables_each_a_throwaway() -> None:
    required = set(REQUIRED_VARIABLE.findall(json.dumps(COMPOSE)))
    assert required, "credentials must be required variables"
    dev = _dev_env()
    assert set(dev) == required, (
        f"missing in {DEV_ENV.name}: {sorted(required - set(dev))}; "
        f"not required by compose: {sorted(set(dev) - required)}")
    for key, value in dev.items():
        if CREDENTIAL_KEYS.search(key):
            assert value.startswith("dev-only-"), f"{key}: say dev-only in the value itself"
