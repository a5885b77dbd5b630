"""The embedded wiki store's schema, as the migrations that build it (run by
``migrations.migrate`` when ``store.WikiStore`` opens a file). A migration, once
released, never changes: a new table or column is a new entry at the end."""

SCHEMA = [
    (
        "0001-initial",
        """
        CREATE TABLE siteinfo (k TEXT PRIMARY KEY, v TEXT NOT NULL);
        CREATE TABLE page (
            page_id INTEGER PRIMARY KEY,
            namespace INTEGER NOT NULL,
            title TEXT NOT NULL,
            redirect TEXT,
            deleted INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX page_title ON page(title) WHERE deleted = 0;
        CREATE TABLE revision (
            rev_id INTEGER PRIMARY KEY,
            page_id INTEGER NOT NULL,
            parent_id INTEGER,
            timestamp INTEGER NOT NULL,
            user TEXT,
            user_id INTEGER,
            comment TEXT,
            minor INTEGER NOT NULL,
            deleted INTEGER NOT NULL,
            model TEXT NOT NULL,
            format TEXT NOT NULL,
            sha1 TEXT NOT NULL,
            slots TEXT
        );
        CREATE INDEX revision_page ON revision(page_id, timestamp, rev_id);
        CREATE TABLE text (sha1 TEXT PRIMARY KEY, data BLOB NOT NULL);
        """,
    ),
    (
        # Uploads: a file's versions (metadata), and their bytes stored once per
        # sha1 whatever name or version they belong to, cut into chunks so a 100 MB
        # file is never one value in memory.
        "0002-files",
        """
        CREATE TABLE file_version (
            name TEXT NOT NULL,
            timestamp INTEGER NOT NULL,
            sha1 TEXT NOT NULL,
            size INTEGER NOT NULL,
            user TEXT,
            user_id INTEGER,
            comment TEXT,
            mime TEXT,
            PRIMARY KEY (name, timestamp, sha1)
        );
        CREATE INDEX file_version_sha1 ON file_version(sha1);
        CREATE TABLE file_blob (sha1 TEXT PRIMARY KEY, size INTEGER NOT NULL);
        CREATE TABLE file_chunk (sha1 TEXT NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sha1, n));
        """,
    ),
    (
        # Where a revision or page made here from a peer's return bundle came from
        # (the peer's ids): written in the same transaction as the revision, so a
        # re-run after a crash finds it and does not make the edit twice.
        "0003-origin",
        """
        CREATE TABLE origin (peer TEXT NOT NULL, peer_rev_id INTEGER NOT NULL, rev_id INTEGER NOT NULL,
            PRIMARY KEY (peer, peer_rev_id));
        CREATE TABLE page_origin (peer TEXT NOT NULL, peer_page_id INTEGER NOT NULL, page_id INTEGER NOT NULL,
            PRIMARY KEY (peer, peer_page_id));
        """,
    ),
]
