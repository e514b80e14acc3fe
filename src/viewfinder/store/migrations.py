"""Versioned catalog schema: `PRAGMA user_version` says which migrations a catalog has had.

Version 1 is the schema of the first releases, which left user_version at 0; an empty file is version 0.
The writer (`viewfinder index`, `viewfinder check --repair`) applies the missing migrations on open, each
in one transaction with its version bump, so an interrupted upgrade leaves the previous version intact.
Readers never write: they refuse an older catalog with the command that upgrades it.
"""

from __future__ import annotations

import sqlite3

from viewfinder.errors import IndexMismatchError

BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    taken_at TEXT,
    indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_taken_at ON images (taken_at);
CREATE TABLE IF NOT EXISTS vectors (
    id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    reason TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');
"""

# MIGRATIONS[v] brings a catalog from version v - 1 to v.
MIGRATIONS: dict[int, str] = {
    # Move-aware identity: a content hash finds a moved or copied file's vector; inode and ctime tell a
    # file replaced in place (same size and mtime) from an untouched one. `sources` records the folders
    # an index was built from, so a vanished one can be reported and removed.
    2: """
    ALTER TABLE images ADD COLUMN content_hash TEXT;
    ALTER TABLE images ADD COLUMN inode INTEGER;
    ALTER TABLE images ADD COLUMN ctime_ns INTEGER;
    CREATE INDEX images_content_hash ON images (content_hash);
    CREATE TABLE sources (root TEXT PRIMARY KEY, added_at REAL NOT NULL);
    INSERT OR IGNORE INTO sources (root, added_at)
        SELECT root, CAST(strftime('%s', 'now') AS REAL) FROM (SELECT root FROM images UNION SELECT root FROM skipped);
    """,
    # Where each photo was taken (EXIF GPS, in degrees), for place filters ("beach in Lisbon"). Photos indexed
    # before stay without one until they are indexed again.
    3: """
    ALTER TABLE images ADD COLUMN latitude REAL;
    ALTER TABLE images ADD COLUMN longitude REAL;
    CREATE INDEX images_place ON images (latitude, longitude);
    """,
    # The words in photos (`index --ocr`), keyed by content hash so that a moved or copied file keeps them
    # like its vector; `squashed` (lower case, no spaces: OCR drops and adds spaces) is what a quoted phrase
    # matches, through a trigram index that finds any substring. `reason` says why a photo's words could not
    # be read (its text is then empty). Rows whose hash no image has any more are dropped by the next OCR pass.
    4: """
    CREATE TABLE words (
        id INTEGER PRIMARY KEY,
        content_hash TEXT NOT NULL UNIQUE,
        text TEXT NOT NULL,
        squashed TEXT NOT NULL,
        reason TEXT
    );
    CREATE VIRTUAL TABLE words_index USING fts5(squashed, content='words', content_rowid='id', tokenize='trigram');
    CREATE TRIGGER words_added AFTER INSERT ON words BEGIN
        INSERT INTO words_index (rowid, squashed) VALUES (new.id, new.squashed);
    END;
    CREATE TRIGGER words_removed AFTER DELETE ON words BEGIN
        INSERT INTO words_index (words_index, rowid, squashed) VALUES ('delete', old.id, old.squashed);
    END;
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)


def schema_version(db: sqlite3.Connection) -> int:
    """The catalog's schema version: 0 for an empty database, 1 for a catalog from before versioning."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'images'").fetchone():
        return 1
    return int(version)


def upgrade(db: sqlite3.Connection) -> int:
    """Brings a writable catalog to SCHEMA_VERSION; returns the version it had."""
    found = schema_version(db)
    _refuse_newer(db, found)
    if found == 0:
        _apply(db, BASE_SCHEMA, 1)
    for version in range(max(found, 1) + 1, SCHEMA_VERSION + 1):
        _apply(db, MIGRATIONS[version], version)
    return found


def require_current(db: sqlite3.Connection, index_path: str) -> None:
    """Raises a clear error, naming the upgrade command, when a read-only catalog is not at SCHEMA_VERSION."""
    found = schema_version(db)
    _refuse_newer(db, found)
    if found < SCHEMA_VERSION:
        raise IndexMismatchError(
            f"The index at {index_path} has catalog version {found}, older than this Viewfinder's "
            f"{SCHEMA_VERSION}; upgrade it with `viewfinder check --repair --index {index_path}` "
            "(or by running `viewfinder index`)."
        )


def _refuse_newer(db: sqlite3.Connection, found: int) -> None:
    if found > SCHEMA_VERSION:
        raise IndexMismatchError(
            f"This index's catalog (version {found}) was written by a newer Viewfinder than this one "
            f"(knows up to {SCHEMA_VERSION}); upgrade Viewfinder to open it."
        )


def _apply(db: sqlite3.Connection, script: str, version: int) -> None:
    """Runs one migration and its version bump as a single transaction."""
    try:
        db.executescript(f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    except sqlite3.Error:
        if db.in_transaction:
            db.rollback()
        raise
