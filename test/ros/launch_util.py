"""Helpers for tests that run ``ros2 launch`` and ``colcon build`` as a user would.

Both come from the ros2-cli kit (``../shared/ros2-cli/install.sh .venv``) and
``pip install colcon-common-extensions``; where they are absent the tests skip and say
so. A launch runs in its own process group (``ROS_DOMAIN_ID`` comes from conftest, one
per pytest session), and Ctrl-C is simulated as a terminal does it: SIGINT to the group.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
KIT_HINT = 'run ../shared/ros2-cli/install.sh .venv (a full ROS 2 install has it too)'
# What colcon needs from the repository (the rest is tests, docs and build outputs).
PACKAGE_FILES = ('CMakeLists.txt', 'package.xml', 'msg', 'srv', 'geode_ros', 'launch',
                 'config', 'scripts', 'models/geode-tiny')


def kit_missing() -> str | None:
    """Why ``ros2 launch`` cannot run here, or None when it can."""
    if shutil.which('ros2', path=str(BIN)) is None:
        return f'no ros2 command in {BIN}: {KIT_HINT}'
    for module in ('launch', 'launch_ros', 'tf2_msgs'):
        if importlib.util.find_spec(module) is None:
            return f'{module} is not importable: {KIT_HINT}'
    return None


def colcon_missing() -> str | None:
    """Why ``colcon build`` cannot run here, or None when it can."""
    if shutil.which('colcon', path=str(BIN)) is None:
        return f'no colcon in {BIN}: pip install colcon-common-extensions'
    if shutil.which('cmake') is None:
        return 'cmake is not installed'
    return None


def copy_package(dest: Path) -> Path:
    """Copy the package's sources (not .venv, build/ or caches) to ``dest``; return it."""
    for name in PACKAGE_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name,
                            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def colcon_build(workspace: Path, timeout: float = 600.0) -> subprocess.CompletedProcess:
    """``colcon build`` in ``workspace`` against this venv's ROS 2 (as a user would)."""
    env = dict(os.environ)
    prefix = sys.prefix
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(
        p for p in (env.get('AMENT_PREFIX_PATH', ''), prefix) if p)
    env['CMAKE_PREFIX_PATH'] = prefix
    env['PATH'] = f'{BIN}{os.pathsep}{env.get("PATH", "")}'
    cmd = [str(BIN / 'colcon'), 'build', '--event-handlers', 'console_direct+',
           '--cmake-args', f'-DPython3_EXECUTABLE={sys.executable}', '-DBUILD_TESTING=OFF']
    return subprocess.run(cmd, cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=timeout)


class Launched:
    """A ``ros2 launch`` (or any command) in its own process group, output collected."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env, cwd=cwd, start_new_session=True)
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return ''.join(self._lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once ``text`` appears in the output (False on timeout or exit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                return text in self.output
            time.sleep(0.2)
        return False

    def interrupt(self, timeout: float = 60.0) -> int | None:
        """Ctrl-C in a terminal: SIGINT to the whole group; the exit code (None if hung)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            rc = None
        self._reader.join(timeout=5)
        return rc

    def close(self) -> None:
        """Make sure nothing is left running (idempotent)."""
        if self.proc.poll() is None:
            self.interrupt(timeout=30)


# Printed at a clean start or exit: any of these in the output is a failure.
ALARMING = ('Traceback', 'KeyboardInterrupt', 'Failed to load', '_pytree', 'Error',
            'ERROR', 'exception')
