"""Real MediaWiki 1.39 instances on 127.0.0.1 for integration tests.

A ``WikiServer`` is one wiki in its own directory: SQLite database, uploads,
caches, logs and ``LocalSettings.php`` all live there, nothing is written to
/etc or /var (Debian's package points those at global paths; see
docs/MEDIAWIKI_FINDINGS.md, G2 and G3). It is served by PHP's built-in
web server with ``MW_CONFIG_FILE`` selecting the instance; a small router
serves ``/images/`` from the instance directory.

Creating a wiki with ``install.php`` costs about a second (install, bot
password, first request building the localisation cache). Tests need many
fresh wikis, so ``WikiServer.create`` builds one pristine *template* per test
session and ``WikiServer.clone`` copies its directory (about 2 MB) and rewrites
the two things that name the old place: the directory path and ``$wgServer``.
Clones share the template's secret key, admin password and bot password; they
are test wikis on loopback, so that is harmless and keeps credentials in one file.

The server runs under its own session (``start_new_session``), so the PHP
master and its ``PHP_CLI_SERVER_WORKERS`` children form one process group,
and ``stop()`` ends exactly that group: never anything found by name.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

MEDIAWIKI_DIR = Path(os.environ.get("WIKIBUNDLE_MEDIAWIKI_DIR", "/usr/share/mediawiki"))
ADMIN_USER = "Admin"
BOT_APP_ID = "sync"
# Everything a sync tool needs; "highvolume" brings apihighlimits and noratelimit.
BOT_GRANTS = (
    "basic,highvolume,editpage,editprotected,createeditmovepage,delete,uploadfile,"
    "uploadeditmovefile,import,viewdeleted,editinterface,editsiteconfig"
)
SITENAME = "Wikibundle Test"  # also names the project namespace; the same on every clone
_INSTALL_HINT = (
    "Install the Debian packages: apt-get install -y --no-install-recommends mediawiki "
    "php-cli php-sqlite3 php-intl php-mbstring php-xml php8.2-cgi mini-httpd"
)

# Appended to the generated LocalSettings.php. Every path is relative to the
# instance directory (__DIR__), so a copied directory stays self-contained.
_OVERRIDES = r"""
# ---- wikibundle test harness overrides (per-instance paths; nothing global) ----
$mwInstanceDir = __DIR__;
$wgCacheDirectory = "$mwInstanceDir/cache";      # Debian's PlatformSettings.php: /var/cache/mediawiki
$wgUploadDirectory = "$mwInstanceDir/images";    # default: the shared /var/lib/mediawiki/images
$wgUploadPath = "$wgScriptPath/images";          # served by router.php
$wgTmpDirectory = "$mwInstanceDir/tmp";
$wgDBerrorLog = "$mwInstanceDir/logs/dberror.log";
$wgDebugLogGroups['exception'] = "$mwInstanceDir/logs/exception.log";
$wgDebugLogGroups['error'] = "$mwInstanceDir/logs/error.log";
$wgDebugLogGroups['fatal'] = "$mwInstanceDir/logs/fatal.log";
$wgEnableUploads = true;
$wgFileExtensions = [ 'png', 'gif', 'jpg', 'jpeg', 'webp', 'pdf', 'svg' ];
$wgUseImageMagick = false;       # no thumbnails; install.php may find a stand-in convert (G5)
$wgSVGConverter = false;         # SVG rasterising off; also avoids the importDump SVG crash
$wgEnableEmail = false;
$wgShowExceptionDetails = true;
$wgJobRunRate = 0;               # deterministic and faster; run runJobs.php when link tables matter
# Cookies are per host, not per port: give each wiki its own prefix (G7).
$wgCookiePrefix = 'mw_' . preg_replace( '/[^A-Za-z0-9_]/', '_', basename( __DIR__ ) );
$wgGroupPermissions['sysop']['import'] = true;
$wgGroupPermissions['sysop']['importupload'] = true;
"""

_ROUTER = r"""<?php
// Router for `php -S`: serves uploads from this instance's images/ (not deleted/,
// temp/, lockdir/); everything else runs from the document root (MediaWiki).
$path = rawurldecode( parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) ?? '/' );
if ( strncmp( $path, '/images/', 8 ) === 0 ) {
	$base = realpath( __DIR__ . '/images' );
	$file = realpath( $base . substr( $path, 7 ) );
	if ( $file === false || strncmp( $file, $base . '/', strlen( $base ) + 1 ) !== 0
		|| !is_file( $file )
		|| preg_match( '#^/(deleted|temp|lockdir)/#', substr( $file, strlen( $base ) ) )
	) {
		http_response_code( 404 );
		header( 'Content-Type: text/plain' );
		echo "404 Not Found\n";
		return true;
	}
	header( 'Content-Type: ' . ( mime_content_type( $file ) ?: 'application/octet-stream' ) );
	header( 'Content-Length: ' . filesize( $file ) );
	readfile( $file );
	return true;
}
return false;
"""


class HarnessError(RuntimeError):
    """The test wiki could not be created or started; the message says why."""


def check_installed() -> None:
    """Raise HarnessError unless PHP and the MediaWiki package are present."""
    if shutil.which("php") is None:
        raise HarnessError(f"php is not installed. {_INSTALL_HINT}")
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").is_file():
        raise HarnessError(f"MediaWiki is not installed at {MEDIAWIKI_DIR}. {_INSTALL_HINT}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WikiServer:
    """One MediaWiki instance in ``dir``; ``start()`` serves it on 127.0.0.1."""

    # PHP's upload limits as the harness serves a wiki; PHP_DEFAULT_LIMITS are what
    # php.ini ships with (and most wikis keep): 2 MB per file, 8 MB per request.
    HARNESS_LIMITS = {"upload_max_filesize": "100M", "post_max_size": "110M"}
    PHP_DEFAULT_LIMITS = {"upload_max_filesize": "2M", "post_max_size": "8M"}

    def __init__(self, dir: str | os.PathLike, *, workers: int = 2, php_limits: dict[str, str] | None = None):
        self.dir = Path(dir)
        self.php_limits = dict(php_limits or self.HARNESS_LIMITS)
        self.conf = self.dir / "LocalSettings.php"
        # More than one worker: a client streaming a download while it sends an
        # API request would otherwise deadlock against a one-request-at-a-time server.
        self.workers = workers
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None
        creds = json.loads((self.dir / "credentials.json").read_text())
        self.name: str = creds["name"]
        self.admin_user: str = creds["admin_user"]
        self.admin_password: str = creds["admin_password"]
        self.bot_user: str = creds["bot_user"]
        self.bot_password: str = creds["bot_password"]

    def __repr__(self) -> str:  # no passwords
        return f"<WikiServer {self.name!r} {self.dir} port={self.port}>"

    # -- creating -----------------------------------------------------------

    @classmethod
    def create(cls, dir: str | os.PathLike, name: str = "wiki", **kw) -> "WikiServer":
        """A new instance by install.php (about 1 s); not started."""
        check_installed()
        d = Path(dir)
        for sub in ("db", "images", "cache", "tmp", "logs"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        admin_password = "pw-" + secrets.token_hex(12)
        bot_password = secrets.token_hex(16)
        log = d / "logs" / "install.log"
        _run(
            [
                "php", str(MEDIAWIKI_DIR / "maintenance" / "install.php"),
                "--dbtype", "sqlite", "--dbpath", str(d / "db"), "--dbname", "wikidb",
                "--server", "http://127.0.0.1:1", "--scriptpath", "",
                "--confpath", str(d), "--lang", "en", "--pass", admin_password,
                SITENAME, ADMIN_USER,
            ],
            log,
            "install.php",
        )
        with open(d / "LocalSettings.php", "a", encoding="utf-8") as f:
            f.write(_OVERRIDES)
        _run(
            [
                "php", str(MEDIAWIKI_DIR / "maintenance" / "createBotPassword.php"),
                "--conf", str(d / "LocalSettings.php"), "--appid", BOT_APP_ID,
                "--grants", BOT_GRANTS, ADMIN_USER, bot_password,
            ],
            log,
            "createBotPassword.php",
        )
        creds = {
            "name": name,
            "admin_user": ADMIN_USER,
            "admin_password": admin_password,
            "bot_user": f"{ADMIN_USER}@{BOT_APP_ID}",
            "bot_password": bot_password,
        }
        path = d / "credentials.json"
        path.write_text(json.dumps(creds, indent=1))
        path.chmod(0o600)
        (d / "router.php").write_text(_ROUTER)
        _set_sitename(d / "LocalSettings.php", name)
        return cls(d, **kw)

    @classmethod
    def clone(cls, template: "WikiServer", dir: str | os.PathLike, name: str, **kw) -> "WikiServer":
        """A copy of a stopped ``template`` in ``dir`` (which must not exist); not started."""
        if template.running:
            raise HarnessError(f"stop {template!r} before cloning it (its SQLite files are open)")
        d = Path(dir)
        shutil.copytree(template.dir, d, ignore=shutil.ignore_patterns("server.log", "*.pid"))
        conf = d / "LocalSettings.php"
        # install.php wrote the absolute database directory ($wgSQLiteDataDir).
        text = conf.read_text(encoding="utf-8").replace(str(template.dir), str(d))
        conf.write_text(text, encoding="utf-8")
        _set_sitename(conf, name)
        creds = json.loads((d / "credentials.json").read_text())
        creds["name"] = name
        (d / "credentials.json").write_text(json.dumps(creds, indent=1))
        return cls(d, **kw)

    # -- running ------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def server(self) -> str:
        if self.port is None:
            raise HarnessError(f"{self!r} is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.server + "/api.php"

    def start(self, port: int | None = None, timeout: float = 30.0) -> "WikiServer":
        """Serve the wiki on 127.0.0.1 (a free port unless given) and wait for api.php."""
        if self.running:
            return self
        # A free port can be taken before php binds it: try another. A given port (a
        # restart) can still be held for a moment by the stopped server's workers: wait.
        attempts = 20 if port is not None else 3
        for attempt in range(attempts):
            self.port = port if port is not None else free_port()
            _set_server(self.conf, self.server)
            try:
                self._spawn_and_wait(timeout)
                return self
            except _PortTaken:
                if attempt == attempts - 1:
                    raise HarnessError(f"port {self.port} is in use") from None
                if port is not None:
                    time.sleep(0.25)
        raise AssertionError("unreachable")

    def _spawn_and_wait(self, timeout: float) -> None:
        (self.dir / "logs").mkdir(exist_ok=True)
        (self.dir / "tmp").mkdir(exist_ok=True)
        log_path = self.dir / "logs" / "server.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0
        env = dict(os.environ, MW_CONFIG_FILE=str(self.conf))
        if self.workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(self.workers)
        else:
            env.pop("PHP_CLI_SERVER_WORKERS", None)
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    "php",
                    *(a for k, v in self.php_limits.items() for a in ("-d", f"{k}={v}")),
                    "-d", "memory_limit=512M", "-d", "max_execution_time=0",
                    "-S", f"127.0.0.1:{self.port}", "-t", str(MEDIAWIKI_DIR),
                    str(self.dir / "router.php"),
                ],
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() kills exactly it
            )
        deadline = time.monotonic() + timeout
        url = f"{self.api_url}?action=query&meta=siteinfo&format=json"
        with httpx.Client(timeout=10) as http:
            while True:
                if self._proc.poll() is not None:
                    self._proc = None
                    tail = _tail(log_path, log_offset)
                    if "Address already in use" in tail:
                        raise _PortTaken()
                    raise HarnessError(f"php -S exited; {log_path}:\n{tail}")
                try:
                    r = http.get(url)
                    if r.status_code == 200 and '"generator":"MediaWiki' in r.text:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise HarnessError(f"api.php did not answer within {timeout}s; see {log_path}")
                time.sleep(0.05)

    def stop(self) -> None:
        """End the server's process group (master and workers); idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # Popen has not reaped the child yet, so its pid (= pgid) cannot have been reused.
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Workers can outlive a master that died first; the group id is still ours.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "WikiServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- maintenance ----------------------------------------------------------

    def run_maintenance(self, script: str, *args: str, check: bool = True, timeout: float = 300):
        """Run ``maintenance/<script>`` (".php" optional) on this wiki; returns CompletedProcess."""
        if not script.endswith(".php"):
            script += ".php"
        cmd = ["php", str(MEDIAWIKI_DIR / "maintenance" / script), "--conf", str(self.conf), *map(str, args)]
        env = dict(os.environ, MW_CONFIG_FILE=str(self.conf))
        proc = subprocess.run(cmd, cwd=self.dir, env=env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise HarnessError(
                f"{script} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            )
        return proc


class _PortTaken(Exception):
    pass


def _run(cmd: list[str], log: Path, what: str) -> None:
    with open(log, "ab") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise HarnessError(f"{what} failed (exit {proc.returncode}); {log}:\n{_tail(log, 0)}")


def _tail(path: Path, offset: int, limit: int = 3000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")[-limit:]
    except OSError:
        return ""


def _rewrite_line(conf: Path, variable: str, value: str) -> None:
    text = conf.read_text(encoding="utf-8")
    line = f"${variable} = {_php_string(value)};"
    new, n = re.subn(rf"^\${variable} = .*$", lambda _: line, text, count=1, flags=re.M)
    if n != 1:
        raise HarnessError(f"no ${variable} line in {conf}")
    conf.write_text(new, encoding="utf-8")


def _php_string(value: str) -> str:
    """A single-quoted PHP literal (no variable interpolation)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _set_server(conf: Path, server: str) -> None:
    _rewrite_line(conf, "wgServer", server)


def _set_sitename(conf: Path, name: str) -> None:
    # Only the display name; $wgMetaNamespace stays, so every clone has the same namespaces.
    _rewrite_line(conf, "wgSitename", name)
