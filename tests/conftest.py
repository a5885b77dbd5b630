"""Shared fixtures. Real-MediaWiki fixtures: see tests/mediawiki_harness.py.

``mediawiki`` and ``mediawiki_pair`` give fresh wikis per test, cloned from one
pristine template built once per session. Without the Debian ``mediawiki``
package they fail (not skip): CI installs it, and a silently skipped
integration suite is worse than a red one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from mediawiki_harness import HarnessError, WikiServer, check_installed


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "mediawiki: runs against a real MediaWiki 1.39 (Debian package) served by php -S on 127.0.0.1",
    )


@pytest.fixture(scope="session")
def mediawiki_template(tmp_path_factory) -> WikiServer:
    """A pristine, stopped wiki; the first request has built its localisation cache."""
    failure = None
    try:
        check_installed()
        template = WikiServer.create(tmp_path_factory.mktemp("mediawiki") / "template", "template")
        template.start()
        template.stop()
    except HarnessError as e:
        failure = str(e)
    if failure is not None:  # outside the except: no "during handling" noise in the report
        pytest.fail(f"cannot create the MediaWiki test template: {failure}", pytrace=False)
    return template


@dataclass(frozen=True)
class WikiPair:
    online: WikiServer
    offline: WikiServer


@pytest.fixture
def mediawiki_factory(mediawiki_template, tmp_path):
    """``make(name)`` -> a fresh, started wiki; all are stopped after the test."""
    made: list[WikiServer] = []

    def make(name: str = "wiki", *, start: bool = True, php_limits: dict[str, str] | None = None) -> WikiServer:
        # The directory name is also the cookie prefix: distinct names, distinct sessions (G7).
        wiki = WikiServer.clone(mediawiki_template, tmp_path / f"mw-{name}", name, php_limits=php_limits)
        made.append(wiki)
        return wiki.start() if start else wiki

    yield make
    for wiki in made:
        wiki.stop()


@pytest.fixture
def mediawiki(mediawiki_factory) -> WikiServer:
    """One fresh wiki, started."""
    return mediawiki_factory("wiki")


@pytest.fixture
def mediawiki_pair(mediawiki_factory) -> WikiPair:
    """Two fresh, independent wikis, "online" and "offline", started in parallel."""
    online = mediawiki_factory("online", start=False)
    offline = mediawiki_factory("offline", start=False)
    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(online.start), pool.submit(offline.start)]:
            future.result()
    return WikiPair(online, offline)
