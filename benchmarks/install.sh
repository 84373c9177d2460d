#!/usr/bin/env bash
# Issue 11's set-up speed: a cold install of the lock (constraints.txt + '.[dev]', editable) into a new
# venv, by pip and by uv as the Makefile calls them, each with an empty cache of its own; pip first,
# then uv, repeated ROUNDS times so both see the same machine load. Prints a Markdown table and the ratio.
# Usage: bash benchmarks/install.sh [ROUNDS]   (needs .venv-tools/bin/uv: `make venv` makes it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
UV=.venv-tools/bin/uv
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
secs() {  # seconds the command took; stop on failure
  local s=$EPOCHREALTIME
  "$@" > "$T/log" 2>&1 || { cat "$T/log" >&2; echo "failed: $*" >&2; exit 1; }
  python3 -c "print(round($EPOCHREALTIME - $s, 1))"
}
pip_install() {
  python3 -m venv "$T/v" && "$T/v/bin/python" -m pip install -q --no-cache-dir -c constraints.txt -e '.[dev]'
}
uv_install() {
  python3 -m venv "$T/v" && UV_CACHE_DIR="$T/cache" $UV pip install -q --python "$T/v/bin/python" \
    $(python3 tools/pip2uv.py) -c constraints.txt -e '.[dev]'
}
echo "command: bash benchmarks/install.sh $ROUNDS"
echo "machine: $(nproc) CPU cores, $(uname -m), $(python3 --version), uv $($UV --version | cut -d' ' -f2); date: $(date -u +%F)"
echo
echo "| round | pip (s) | uv (s) | pip / uv |"
echo "|---:|---:|---:|---:|"
for r in $(seq "$ROUNDS"); do
  rm -rf "$T/v" "$T/cache"; p=$(secs pip_install)
  rm -rf "$T/v" "$T/cache"; u=$(secs uv_install)
  echo "| $r | $p | $u | $(python3 -c "print(f'{$p / $u:.2f}')") |"
done
