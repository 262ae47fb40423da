#!/usr/bin/env bash
# Installs everything gazette and its tests need on a fresh Debian 12 machine,
# then builds the bundled gazette into ./output.  Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  fonts-noto-cjk          # CJK fonts for PDFs
  libharfbuzz-subset0     # fast font subsetting for WeasyPrint
  libpango-1.0-0 libpangoft2-1.0-0
  poppler-utils           # pdftotext / pdffonts, used by the tests
  chromium                # browser tests (driven by Playwright)
  default-jre-headless    # vnu HTML checker
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: installing gazette and its test dependencies (pip)"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

if [ -f package.json ]; then
  echo "setup: installing HTML and accessibility checkers (npm)"
  npm ci --silent --no-audit --no-fund
fi

echo "setup: building the bundled gazette"
python3 build.py
