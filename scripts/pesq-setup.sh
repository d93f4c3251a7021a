#!/usr/bin/env bash
# Creates (idempotently) the Python venv the SIP peer tests use to score received audio with
# PESQ (ITU-T P.862, the `pesq` package from PyPI) and prints its python path.
#
# Needs: python3 >= 3.8 with the venv module and its C headers (Python.h), a C compiler (gcc)
# and network access to PyPI the first time. `pesq` ships no wheels: pip builds its C extension
# from source (build deps: Cython and numpy, fetched by pip's isolated build).
# Debian 12: `apt-get install build-essential python3-dev python3-venv` (a pyenv CPython
# already has its headers and venv).
#
# Usage: scripts/pesq-setup.sh            (venv at $SEATLINE_PESQ_VENV or
#                                          $HOME/.cache/seatline/pesq-venv)
set -euo pipefail

venv="${SEATLINE_PESQ_VENV:-$HOME/.cache/seatline/pesq-venv}"
python="${PYTHON:-python3}"
# Pinned: the scorer depends on their exact behaviour. Bump together, then rerun.
pins=("pesq==0.0.4" "numpy==1.26.4")
stamp="$venv/.seatline-pins"
want="${pins[*]}"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$venv/bin/python" -c 'import pesq, numpy' 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi

command -v "$python" >/dev/null || { echo "pesq-setup: $python not found" >&2; exit 1; }
command -v cc >/dev/null || command -v gcc >/dev/null \
  || { echo "pesq-setup: no C compiler (apt-get install build-essential)" >&2; exit 1; }

mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check "${pins[@]}" >&2
"$venv/bin/python" -c 'import pesq, numpy' >&2
echo "$want" >"$stamp"
echo "$venv/bin/python"
