"""Fixtures for tests that drive a real ComfyUI server (see comfy_server.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .comfy_server import (
    FIXTURE_PACK_DIR,
    SITECUSTOMIZE_DIR,
    TINY_FLUX_FILE,
    TINY_SD3_FILE,
    ComfyClient,
    ComfyServerError,
    ComfyServerProcess,
    read_comfyui_version,
    read_log_tail,
)

SERVER_LOG_SECTION = "ComfyUI server log during this test"
_log_offset_key = pytest.StashKey[int]()


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def configured_comfyui_dirs() -> list[Path]:
    """Return the ComfyUI checkouts to test: COMFYUI_DIRS (os.pathsep-separated), else COMFYUI_DIR."""
    value = os.environ.get("COMFYUI_DIRS") or os.environ.get("COMFYUI_DIR") or ""
    return [Path(entry) for entry in value.split(os.pathsep) if entry]


def release_id(comfyui_dir: Path | None) -> str:
    """Return the test id part for one checkout, e.g. "comfyui-0.18.2"."""
    if comfyui_dir is None:
        return "comfyui-missing"
    return f"comfyui-{read_comfyui_version(comfyui_dir) or 'unknown-version'}"


# One entry per release, so that every test that uses comfy_server runs once per release. None
# stands for "no ComfyUI configured", which skips those tests (or fails them under CI).
COMFYUI_DIRS_UNDER_TEST: list[Path | None] = configured_comfyui_dirs() or [None]

# The server of the release whose tests run now. Only one runs at a time, because a second
# ComfyUI with its models loaded would compete for the same CPU cores and memory.
_running_server: ComfyServerProcess | None = None


@pytest.fixture(scope="session", params=COMFYUI_DIRS_UNDER_TEST, ids=release_id)
def comfy_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComfyClient]:
    """Start ComfyUI from one checkout with this pack linked in, and stop it after that release's tests.

    pytest orders the tests by release and tears down one release's server before it starts the
    next. Without COMFYUI_DIRS or COMFYUI_DIR the tests are skipped, except under CI, where that
    is an error.
    """
    global _running_server

    comfyui_dir: Path | None = request.param
    if comfyui_dir is None:
        reason = (
            "neither COMFYUI_DIRS nor COMFYUI_DIR is set; run the tests with scripts/test.sh, "
            "which downloads ComfyUI and sets them"
        )
        if running_in_ci():
            pytest.fail(f"{reason} (CI is set, so integration tests must not be skipped)", pytrace=False)
        pytest.skip(reason)

    # pytest keeps one instance of a session fixture and finishes it before it builds the one for
    # the next release, so this stop is a no-op safeguard for the one-server rule.
    if _running_server is not None:
        _running_server.stop()

    server = ComfyServerProcess(comfyui_dir, tmp_path_factory.mktemp(f"{release_id(comfyui_dir)}-base"))
    _running_server = server
    try:
        try:
            server.start()
            server.wait_until_ready()
        except ComfyServerError as error:
            pytest.fail(str(error), pytrace=False)

        # ComfyUI keeps running when a node module fails to import, so a broken pack would
        # otherwise show up only as missing nodes.
        import_failures = server.import_failures()
        if import_failures:
            pytest.fail(
                "ComfyUI reported failed imports:\n"
                + "\n".join(import_failures)
                + f"\nlog tail ({server.log_path}):\n{read_log_tail(server.log_path)}",
                pytrace=False,
            )

        yield ComfyClient(server)
    finally:
        server.stop()
        _running_server = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    client = getattr(item, "funcargs", {}).get("comfy_server")
    if isinstance(client, ComfyClient):
        item.stash[_log_offset_key] = len(client.log_text())
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    client = getattr(item, "funcargs", {}).get("comfy_server")
    if report.when == "call" and report.failed and isinstance(client, ComfyClient):
        offset = item.stash.get(_log_offset_key, 0)
        report.sections.append((SERVER_LOG_SECTION, client.log_text()[offset:] or "(nothing logged)"))



@pytest.fixture(scope="module")
def tiny_model_files(comfy_server: ComfyClient) -> Path:
    """Write random-weight models for ComfyUI's stock loaders into the server's models folder.

    diffusion_models gets a tiny FLUX.1 schnell and a tiny SD3, and vae_approx a random TAESD for
    FLUX latents, which VAELoader offers as "taef1". Returns the models folder.
    """
    models = comfy_server.models_dir
    if not (models / "diffusion_models" / TINY_FLUX_FILE).exists():
        # Built in a child process from the server's own ComfyUI, which this process may not import.
        script = textwrap.dedent(
            f"""
            import importlib.util, sys
            sys.path.insert(0, {str(comfy_server.server.comfyui_dir)!r})
            import comfy.cli_args
            comfy.cli_args.args.cpu = True
            spec = importlib.util.spec_from_file_location("tiny_models", {str(FIXTURE_PACK_DIR / "tiny_models.py")!r})
            tiny_models = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(tiny_models)
            tiny_models.save_tiny_flux({str(models / "diffusion_models" / TINY_FLUX_FILE)!r}, seed=0)
            tiny_models.save_tiny_non_flux({str(models / "diffusion_models" / TINY_SD3_FILE)!r}, seed=0)
            tiny_models.save_tiny_taef1({str(models / "vae_approx")!r}, seed=0)
            """
        )
        python_path = os.pathsep.join(filter(None, [str(SITECUSTOMIZE_DIR), os.environ.get("PYTHONPATH")]))
        environment = dict(os.environ, PYTHONPATH=python_path)
        completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=300)
        assert completed.returncode == 0, completed.stderr
    return models
