-- The Directory: configuration, synchronized entities, and where synchronization stands.

CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per Directory entity. `fields` holds the SiPass object's attributes as JSON.
-- `generation` is the full synchronization that last wrote the row: at the end of a full
-- synchronization, rows of an older generation no longer exist in SiPass.
CREATE TABLE entities (
    kind        TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    source_kind TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE INDEX entities_by_source ON entities (source_kind, generation);

-- Per SiPass kind: the listing in progress or last completed, so that a full
-- synchronization resumes from its last committed page.
CREATE TABLE sync_position (
    source_kind       TEXT PRIMARY KEY,
    cache_id          TEXT    NOT NULL,
    generation        INTEGER NOT NULL,
    snapshot_revision INTEGER NOT NULL,
    page_token        TEXT    NOT NULL,
    done              INTEGER NOT NULL,
    total             INTEGER NOT NULL,
    complete          INTEGER NOT NULL
);

-- Synchronization history, newest last.
CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    trigger     TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
