#!/usr/bin/env bash
# Build the camviewer application bundle (one folder, PyInstaller) from this checkout.
#   installer/build.sh            the bundle with this project's torch (a CUDA build: runs on CPUs and NVIDIA GPUs)
#   installer/build.sh --cpu      a CPU-only bundle: a build environment with PyTorch's CPU wheels (much smaller)
#   installer/build.sh --dist DIR where the bundle goes (default: dist/; the bundle is DIR/camviewer)
# PYTHON names the interpreter of the build environment (default: .venv/bin/python, or python3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIST="$ROOT/dist"
CPU=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu) CPU=1 ;;
        --dist) DIST=$2; shift ;;
        *) echo "usage: installer/build.sh [--cpu] [--dist DIR]" >&2; exit 2 ;;
    esac
    shift
done
if [ "$CPU" = 1 ]; then
    python3 -m venv "$ROOT/build/cpu-venv"
    PY="$ROOT/build/cpu-venv/bin/python"
    "$PY" -m pip install -q torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu
else
    PY=${PYTHON:-"$ROOT/.venv/bin/python"}
    [ -x "$PY" ] || PY=python3
fi
"$PY" -m pip install -q -e "$ROOT[installer]"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" \
    "$ROOT/installer/camviewer.spec"
echo "bundle: $DIST/camviewer ($(du -sh "$DIST/camviewer" | cut -f1))"
