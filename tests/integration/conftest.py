"""Fixtures for tests that drive a real ComfyUI server (see comfy_server.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .comfy_server import ComfyClient, ComfyServerError, ComfyServerProcess, read_comfyui_version, read_log_tail
from .tiny_native import write_tiny_models

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
    """Write the tiny stand-ins for ComfyUI's FLUX loaders into the server's models folder (see tiny_native.py)."""
    write_tiny_models(comfy_server.models_dir, comfy_server.server.comfyui_dir)
    return comfy_server.models_dir
