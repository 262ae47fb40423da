#!/usr/bin/env bash
# Installs everything gazette and its tests need on a fresh Debian 12 machine,
# then builds the bundled gazette into ./output.
#
#   apt:  fonts, Chromium, Java, python3-venv (and npm if there is none)
#   pip:  gazette (editable) and its test dependencies, in a virtual
#         environment at .venv/ -- Debian's python3 is "externally managed"
#         (PEP 668), so nothing is installed into it
#   npm:  the Nu HTML checker and axe-core, used by the tests
#
# Safe to run again: each step is skipped when what it installs is in place
# and its inputs (pyproject.toml, package-lock.json) have not changed.
# PYTHON=/path/to/python3 picks the interpreter for the environment (default:
# python3 on PATH).  Works as root, or as a user with sudo for the apt step.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=.venv
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3-venv            # virtual environments for Debian's python3
  fonts-noto-cjk          # CJK fonts for PDFs
  libharfbuzz-subset0     # fast font subsetting for WeasyPrint
  libpango-1.0-0 libpangoft2-1.0-0
  poppler-utils           # pdftotext / pdffonts, used by the tests
  chromium                # browser tests (driven by Playwright)
  default-jre-headless    # vnu HTML checker
)
if ! command -v npm >/dev/null 2>&1; then APT_PACKAGES+=(npm); fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The environment is rebuilt when it is broken or was made by another Python.
want_python="$("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.base_prefix)')"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.gazette-python" 2>/dev/null)" != "$want_python" ] \
   || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "setup: creating the virtual environment $VENV ($("$PYTHON" --version))"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  echo "$want_python" > "$VENV/.gazette-python"
fi

pip_stamp="$(sha256sum pyproject.toml | cut -c1-64)"
if [ "$(cat "$VENV/.gazette-pip" 2>/dev/null)" != "$pip_stamp" ] || ! "$VENV/bin/python" -c 'import gazette, weasyprint, pytest' >/dev/null 2>&1; then
  echo "setup: installing gazette and its test dependencies into $VENV (pip)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --use-pep517 -e '.[test]'
  echo "$pip_stamp" > "$VENV/.gazette-pip"
fi

if [ -f package.json ]; then
  npm_stamp="$(sha256sum package-lock.json | cut -c1-64)"
  if [ "$(cat node_modules/.gazette-npm 2>/dev/null)" != "$npm_stamp" ]; then
    echo "setup: installing HTML and accessibility checkers (npm)"
    npm ci --silent --no-audit --no-fund
    echo "$npm_stamp" > node_modules/.gazette-npm
  fi
fi

echo "setup: building the bundled gazette"
"$VENV/bin/python" build.py
echo "setup: done.  Run the tests with: $VENV/bin/python -m pytest -q"
echo "       Put gazette on PATH with:   source $VENV/bin/activate"
