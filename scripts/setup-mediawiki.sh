#!/bin/sh
# Installs Debian's MediaWiki 1.39 and PHP for the integration tests, when missing.
# The test harness (tests/mediawiki_harness.py) starts its own wikis on 127.0.0.1.
set -e
PKGS="mediawiki php-cli php-sqlite3 php-intl php-mbstring php-xml php8.2-cgi mini-httpd"
if [ -f /usr/share/mediawiki/maintenance/install.php ] && command -v php >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "MediaWiki is not installed; as root run: apt-get install -y --no-install-recommends $PKGS" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends and php8.2-cgi + mini-httpd keep apache2 out (docs/MEDIAWIKI_FINDINGS.md G1)
apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
