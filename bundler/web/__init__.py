"""``bundle serve``: the side's own web page (the school's page).

    app.py       routes (Starlette): the wiki at MediaWiki's URLs, the sync page, conflicts
    guard.py     what keeps it safe: CSRF tokens, the password for a non-local host, inbox names
    wiki.py      what the pages read from the embedded store (recent changes, conflicts, edits waiting)
    search.py    full-text search: an SQLite FTS5 index file of its own beside the store
    inbox.py     the stick's folder: bundles and part sets, what each brings, whether it applies
    jobs.py      applying a bundle and writing the return bundle in a background thread, with progress
    render.py    wikitext to HTML (pandoc's MediaWiki reader, wikitext.lua)

Every change goes through the library's public functions, the ones the CLI calls:
``apply.apply_bundle`` (which runs ``check_bundle``), ``make.make_bundle_retrying`` for
the return, ``edit.edit_page`` and ``edit.upload_file``; each under ``Side.locked()``.
"""
