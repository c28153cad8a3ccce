"""Fixtures for tests that drive a real ComfyUI server (see comfy_server.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .comfy_server import ComfyClient, ComfyServerError, ComfyServerProcess, read_log_tail

SERVER_LOG_SECTION = "ComfyUI server log during this test"
_log_offset_key = pytest.StashKey[int]()


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def comfy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComfyClient]:
    """Start ComfyUI from COMFYUI_DIR with this pack linked in, once per session, and stop it after.

    Without COMFYUI_DIR the tests are skipped, except under CI, where that is an error.
    """
    comfyui_dir = os.environ.get("COMFYUI_DIR")
    if not comfyui_dir:
        reason = "COMFYUI_DIR is not set; run the tests with scripts/test.sh, which downloads ComfyUI and sets it"
        if running_in_ci():
            pytest.fail(f"{reason} (CI is set, so integration tests must not be skipped)", pytrace=False)
        pytest.skip(reason)

    server = ComfyServerProcess(Path(comfyui_dir), tmp_path_factory.mktemp("comfyui-base"))
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

