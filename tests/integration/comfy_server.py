"""A real ComfyUI server process for integration tests, and an HTTP client that drives it.

The server runs ComfyUI's own ``main.py`` on the CPU, listening on 127.0.0.1 only, with every
folder it writes (models, input, output, temp, user, custom_nodes) under one base directory. The
node pack is linked into that base directory's ``custom_nodes``. The client talks to the server
as ComfyUI's browser front end does: ``/object_info``, ``/prompt``, ``/history``, ``/interrupt``
and ``/upload/image``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK_LINK_NAME = "comfyui-contrastive-concept-attention"
# A test-only pack with a tiny random FLUX.1 text encoder node, for workflows on ComfyUI's own FLUX.
FIXTURE_PACK_DIR = REPO_ROOT / "tests" / "native" / "fixture_pack"
FIXTURE_PACK_LINK_NAME = "contrastive-attention-test-fixtures"
# Files that the tiny_model_files fixture writes under models/diffusion_models.
TINY_FLUX_FILE = "tiny_flux_schnell.safetensors"
TINY_SD3_FILE = "tiny_sd3.safetensors"
SITECUSTOMIZE_DIR = REPO_ROOT / "scripts" / "sitecustomize"

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_INTERVAL_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 80

# ComfyUI 0.18.2 and 0.30.0 log "<seconds> seconds (IMPORT FAILED): <path>" for a custom node
# folder, and "IMPORT FAILED: <file>" for their own optional node modules, when importing them
# raised.
IMPORT_FAILED_MARKER = "IMPORT FAILED"

# ComfyUI's release version, as written to comfyui_version.py in its source tree.
VERSION_PATTERN = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)

# ComfyUI colours its log level tags with ANSI escape sequences even when writing to a file.
ANSI_ESCAPE_PATTERN = re.compile(r"\x1b\[[0-9;]*m")


class ComfyServerError(RuntimeError):
    """The ComfyUI server failed to start, exited, or returned an unexpected response."""


class PromptRejectedError(ComfyServerError):
    """``POST /prompt`` returned HTTP 400: the prompt failed validation and was not queued."""

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(f"POST /prompt returned HTTP {status_code}: {body}")

    @property
    def error(self) -> dict[str, Any]:
        """The top-level error (``type``, ``message``, ``details``), or {} when absent."""
        return self.body.get("error", {}) if isinstance(self.body, dict) else {}

    @property
    def node_errors(self) -> dict[str, Any]:
        """Validation errors per node id, each with ``errors`` and ``class_type``."""
        return self.body.get("node_errors", {}) if isinstance(self.body, dict) else {}


@dataclass
class PromptResult:
    """A finished prompt's entry in ``GET /history/<prompt_id>``, with its outcome decoded."""

    prompt_id: str
    entry: dict[str, Any]
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def from_history_entry(cls, prompt_id: str, entry: dict[str, Any]) -> PromptResult:
        status = entry.get("status") or {}
        messages = [(name, data) for name, data in status.get("messages", [])]
        return cls(prompt_id=prompt_id, entry=entry, messages=messages)

    @property
    def status_str(self) -> str | None:
        """ComfyUI's outcome: "success" or "error" (an interrupted prompt also reads "error")."""
        return (self.entry.get("status") or {}).get("status_str")

    @property
    def outputs(self) -> dict[str, Any]:
        """UI outputs per node id, e.g. ``{"9": {"images": [{"filename", "subfolder", "type"}]}}``."""
        return self.entry.get("outputs", {})

    @property
    def error(self) -> dict[str, Any] | None:
        """The ``execution_error`` message (node_id, exception_type, exception_message, traceback)."""
        return self._message("execution_error")

    @property
    def interruption(self) -> dict[str, Any] | None:
        """The ``execution_interrupted`` message (node_id, node_type, executed), if interrupted."""
        return self._message("execution_interrupted")

    @property
    def succeeded(self) -> bool:
        return self.status_str == "success" and self.error is None and self.interruption is None

    def _message(self, name: str) -> dict[str, Any] | None:
        for message_name, data in self.messages:
            if message_name == name:
                return data
        return None


def find_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (another process may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def read_comfyui_version(comfyui_dir: Path) -> str | None:
    """Return the version in a ComfyUI checkout's comfyui_version.py, or None when it has none."""
    try:
        text = (comfyui_dir / "comfyui_version.py").read_text(encoding="utf-8")
    except OSError:
        return None
    match = VERSION_PATTERN.search(text)
    return match.group(1) if match else None


def read_log(log_path: Path) -> str:
    """Return a server log's text without ANSI colour sequences."""
    return ANSI_ESCAPE_PATTERN.sub("", log_path.read_text(encoding="utf-8", errors="replace"))


def read_log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not log_path.exists():
        return f"(no log at {log_path})"
    return "\n".join(read_log(log_path).splitlines()[-lines:])


class ComfyServerProcess:
    """Start and stop ``python main.py`` of a ComfyUI checkout, with the node pack linked in."""

    def __init__(self, comfyui_dir: Path, base_dir: Path, pack_dir: Path = REPO_ROOT) -> None:
        self.comfyui_dir = comfyui_dir
        self.base_dir = base_dir
        self.pack_dir = pack_dir
        self.log_path = base_dir / "comfyui.log"
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pack_link(self) -> Path:
        return self.base_dir / "custom_nodes" / PACK_LINK_NAME

    def start(self) -> None:
        main_script = self.comfyui_dir / "main.py"
        if not main_script.is_file():
            raise ComfyServerError(
                f"ComfyUI's main.py not found in {self.comfyui_dir} (from COMFYUI_DIRS or COMFYUI_DIR)"
            )

        # ComfyUI exits at start-up when the base directory has no custom_nodes folder.
        self.pack_link.parent.mkdir(parents=True, exist_ok=True)
        for link, target in ((self.pack_link, self.pack_dir), (self.pack_link.parent / FIXTURE_PACK_LINK_NAME, FIXTURE_PACK_DIR)):
            if not link.exists():
                link.symlink_to(target, target_is_directory=True)

        self.port = find_free_port()
        command = [
            sys.executable,
            str(main_script),
            "--cpu",
            "--listen", "127.0.0.1",
            "--port", str(self.port),
            "--base-directory", str(self.base_dir),
            "--database-url", "sqlite:///:memory:",
            "--disable-auto-launch",
            "--disable-api-nodes",
        ]  # fmt: skip
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            cwd=self.comfyui_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        logger.info("started ComfyUI (pid %d) on %s, log %s", self.process.pid, self.base_url, self.log_path)

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ)
        # The pack's model loader offers its random-weight test model only when this is set.
        environment["CONTRASTIVE_ATTENTION_TEST_MODEL"] = "1"
        # The shim lets torchvision import next to CPU torch; LD_PRELOAD, if set, passes through.
        python_path = [str(SITECUSTOMIZE_DIR)]
        if environment.get("PYTHONPATH"):
            python_path.append(environment["PYTHONPATH"])
        environment["PYTHONPATH"] = os.pathsep.join(python_path)
        environment["PYTHONUNBUFFERED"] = "1"
        return environment

    def wait_until_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll ``GET /system_stats`` until it returns 200; raise if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.raise_if_exited()
            try:
                response = requests.get(f"{self.base_url}/system_stats", timeout=2)
                if response.status_code == 200:
                    logger.info("ComfyUI ready on %s", self.base_url)
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.25)
        raise ComfyServerError(
            f"ComfyUI did not answer GET /system_stats within {timeout:.0f} s; log tail:\n"
            f"{read_log_tail(self.log_path)}"
        )

    def raise_if_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ComfyServerError(
                f"ComfyUI exited with status {self.process.returncode}; log tail:\n"
                f"{read_log_tail(self.log_path)}"
            )

    def import_failures(self) -> list[str]:
        """Return the log lines that report a failed import of a node module or custom node folder."""
        return [line for line in self.log_text().splitlines() if IMPORT_FAILED_MARKER in line]

    def log_text(self) -> str:
        return read_log(self.log_path)

    def stop(self) -> None:
        """Stop the server by its PID: terminate, wait, then kill if it is still running."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("ComfyUI (pid %d) ignored SIGTERM for %.0f s; killing it", self.process.pid, STOP_TIMEOUT_SECONDS)
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            logger.info("stopped ComfyUI (pid %d), status %s", self.process.pid, self.process.returncode)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class ComfyClient:
    """HTTP client for one running ComfyUI server, plus the folders that server reads and writes."""

    def __init__(self, server: ComfyServerProcess) -> None:
        self.server = server
        self.base_url = server.base_url
        self.client_id = uuid.uuid4().hex
        self.session = requests.Session()

    @property
    def output_dir(self) -> Path:
        return self.server.base_dir / "output"

    @property
    def input_dir(self) -> Path:
        return self.server.base_dir / "input"

    @property
    def temp_dir(self) -> Path:
        return self.server.base_dir / "temp"

    @property
    def models_dir(self) -> Path:
        return self.server.base_dir / "models"

    def log_text(self) -> str:
        """Return the server's whole log (stdout and stderr) so far, without ANSI colours."""
        return self.server.log_text()

    def object_info(self, node_id: str | None = None) -> dict[str, Any]:
        """Return ``/object_info`` for every node, or the schema of one node id.

        Raises KeyError when the server does not list ``node_id``.
        """
        if node_id is None:
            return self._get_json("/object_info")
        info = self._get_json(f"/object_info/{node_id}")
        if node_id not in info:
            raise KeyError(f"node {node_id!r} is not listed in /object_info")
        return info[node_id]

    def queue(self, prompt_api: dict[str, Any]) -> str:
        """Queue an API-format prompt and return its prompt id.

        Raises PromptRejectedError, which carries the server's JSON error body, on HTTP 400.
        """
        response = self._request("POST", "/prompt", json={"prompt": prompt_api, "client_id": self.client_id})
        if response.status_code == 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise PromptRejectedError(response.status_code, body)
        self._raise_for_status(response)
        return response.json()["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0) -> PromptResult:
        """Wait until the prompt finished, failed or was interrupted, and return its history entry.

        Raises TimeoutError when it has not finished after ``timeout`` seconds, and
        ComfyServerError when the server exits meanwhile.
        """
        deadline = time.monotonic() + timeout
        while True:
            history = self._get_json(f"/history/{prompt_id}")
            if prompt_id in history:
                return PromptResult.from_history_entry(prompt_id, history[prompt_id])
            if time.monotonic() >= deadline:
                queue_state = self._get_json("/queue")
                raise TimeoutError(
                    f"prompt {prompt_id} did not finish within {timeout:.0f} s; "
                    f"running: {len(queue_state.get('queue_running', []))}, "
                    f"pending: {len(queue_state.get('queue_pending', []))}"
                )
            self.server.raise_if_exited()
            time.sleep(POLL_INTERVAL_SECONDS)

    def run(self, prompt_api: dict[str, Any], timeout: float = 300.0) -> PromptResult:
        """Queue a prompt and wait for its result."""
        return self.wait(self.queue(prompt_api), timeout=timeout)

    def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt the running prompt (only if it is ``prompt_id``, when given)."""
        payload = {"prompt_id": prompt_id} if prompt_id else {}
        self._raise_for_status(self._request("POST", "/interrupt", json=payload))

    def upload_image(self, path: Path | str, subfolder: str = "") -> str:
        """Upload an image file to the input folder and return the name LoadImage takes."""
        path = Path(path)
        with path.open("rb") as image_file:
            response = self._request(
                "POST",
                "/upload/image",
                files={"image": (path.name, image_file, "application/octet-stream")},
                data={"overwrite": "true", "subfolder": subfolder},
            )
        self._raise_for_status(response)
        uploaded = response.json()
        if uploaded.get("subfolder"):
            return f"{uploaded['subfolder']}/{uploaded['name']}"
        return uploaded["name"]

    def image_paths(self, result: PromptResult, node_id: str | None = None) -> list[Path]:
        """Return the files of the images a prompt's nodes (or one node) reported as UI outputs."""
        folders = {"output": self.output_dir, "temp": self.temp_dir, "input": self.input_dir}
        paths = []
        for output_node_id, node_output in result.outputs.items():
            if node_id is not None and output_node_id != node_id:
                continue
            for image in node_output.get("images", []):
                paths.append(folders[image["type"]] / image.get("subfolder", "") / image["filename"])
        return paths

    def convert_workflow(self, ui_workflow: dict[str, Any]) -> dict[str, Any]:
        """Convert a UI-format workflow (as saved by the browser) to an API-format prompt.

        Uses comfy-cli's converter with this server's live ``/object_info``.
        """
        from comfy_cli.workflow_to_api import convert_ui_to_api

        return convert_ui_to_api(ui_workflow, self.object_info())

    def _get_json(self, path: str) -> Any:
        response = self._request("GET", path)
        self._raise_for_status(response)
        return response.json()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, f"{self.base_url}{path}", timeout=REQUEST_TIMEOUT_SECONDS, **kwargs)
        except requests.ConnectionError as error:
            self.server.raise_if_exited()
            raise ComfyServerError(f"{method} {path} failed: {error}") from error

    @staticmethod
    def _raise_for_status(response: requests.Response) -> None:
        if response.status_code >= 400:
            raise ComfyServerError(
                f"{response.request.method} {response.url} returned HTTP {response.status_code}: {response.text[:2000]}"
            )
