"""Running a MediaWiki's own maintenance scripts on this machine.

``Scripts`` runs one script of the wiki's MediaWiki installation against its
``LocalSettings.php`` (``--conf``): ``php maintenance/run.php NAME`` where the
installation has ``run.php`` (MediaWiki 1.40 and later), else ``php
maintenance/NAME.php`` (1.39 and before). The PHP binary is the side's (``bundle
init --php``). A script that fails is one ``WikiError`` (exit code 50) naming the
script and the last lines it printed; a PHP that cannot be started is a usage
error. Arguments go to the script as a list, never through a shell.

The wiki this targets is ``targets/local.py``'s: writes through these scripts,
reads over the wiki's own ``api.php``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from ..errors import UsageError, WikiError

DEBIAN_MEDIAWIKI = "/usr/share/mediawiki"  # Debian's package: LocalSettings.php lives in /var/lib/mediawiki
SCRIPT_TIMEOUT = 6 * 3600  # a first import of a large wiki takes long; a hung PHP does not hang us forever


@dataclass(frozen=True, slots=True)
class Scripts:
    """How to run the maintenance scripts of one wiki."""

    conf: str  # the wiki's LocalSettings.php
    install: str  # the MediaWiki installation (holds maintenance/)
    php: str = "php"

    @classmethod
    def locate(cls, wiki: str, php: str = "php", install: str | None = None) -> "Scripts":
        """The wiki named by its ``LocalSettings.php`` or the folder holding it; its
        installation is that folder when it has ``maintenance/``, else Debian's."""
        conf = os.path.abspath(wiki)
        if os.path.isdir(conf):
            conf = os.path.join(conf, "LocalSettings.php")
        if not os.path.isfile(conf):
            raise UsageError(
                f"--wiki {wiki}: no LocalSettings.php there",
                hint="Give the wiki's LocalSettings.php (or its folder), an api.php URL, or an embedded store file.",
            )
        if install is None:
            here = os.path.dirname(os.path.realpath(conf))
            candidates = [os.path.dirname(conf), here, DEBIAN_MEDIAWIKI]
            install = next((c for c in candidates if os.path.isdir(os.path.join(c, "maintenance"))), None)
            if install is None:
                raise UsageError(
                    f"--wiki {wiki}: cannot find the MediaWiki installation (a folder with maintenance/) for it",
                    hint="Give it with --mediawiki DIR.",
                )
        return cls(conf, os.path.abspath(install), php)

    def command(self, script: str, *args: str) -> list[str]:
        maintenance = os.path.join(self.install, "maintenance")
        if os.path.isfile(os.path.join(maintenance, "run.php")):
            head = [self.php, os.path.join(maintenance, "run.php"), script]
        else:
            head = [self.php, os.path.join(maintenance, script + ".php")]
        return [*head, "--conf", self.conf, *args]

    def run(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run ``script`` with ``args``; its output. Fails with one ``WikiError``."""
        cmd = self.command(script, *args)
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT,
                                  cwd=self.install)
        except FileNotFoundError:
            raise UsageError(f"cannot run PHP ({self.php!r}) for the wiki's maintenance scripts",
                             hint="Install php-cli, or give its path with bundle init --php.") from None
        except subprocess.TimeoutExpired:
            raise WikiError(f"{script}.php did not finish within {SCRIPT_TIMEOUT} s", code="scripttimeout",
                            hint="Run bundle apply again: it resumes where this run stopped.") from None
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise WikiError(
                f"the wiki's maintenance script {script}.php failed (exit {done.returncode}): {tail}",
                hint="Check the wiki (its database, LocalSettings.php, file permissions: run as the wiki's user),"
                " then run bundle apply again: it resumes where this run stopped.",
                code="scriptfailed",
            )
        return done.stdout

    def settings(self, *names: str) -> dict:
        """Configuration values of the wiki (``getConfiguration.php``)."""
        import json

        out = self.run("getConfiguration", "--settings", " ".join(names), "--format", "json")
        try:
            return json.loads(out[out.index("{"):])
        except ValueError:
            raise WikiError(f"getConfiguration.php printed no settings: {out[:200]!r}", code="scriptfailed",
                            hint="Check that the wiki's LocalSettings.php loads.") from None
