#!/bin/sh
# Installs what bundle serve's tests need, when missing: Debian's pandoc (wikitext to
# HTML) and Debian's headless chromium with its chromedriver (the browser test; nothing
# may download a browser here).
set -e
PKGS="pandoc chromium chromium-driver"
if command -v pandoc >/dev/null 2>&1 && [ -x /usr/bin/chromedriver ] && [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "pandoc or chromium is not installed; as root run: apt-get install -y --no-install-recommends $PKGS" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
