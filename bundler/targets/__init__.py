"""Where changes go: the embedded store (``bundler.store``) or a MediaWiki (``targets.mediawiki``)."""
