-- The Directory: configuration, synchronized entities, and where synchronization stands.

CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per Directory entity. A SiPass object becomes one or more rows (a controller is an
-- access control unit and an intrusion detection unit); `primary_row` marks the one that
-- stands for the object in counts and digests. `fields` holds the SiPass attributes as JSON.
-- `generation` is the full synchronization that last wrote the row: at the end of a full
-- synchronization, rows of an older generation no longer exist in SiPass.
CREATE TABLE entities (
    source_kind TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    primary_row INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    PRIMARY KEY (source_kind, id, kind)
) WITHOUT ROWID;

CREATE INDEX entities_by_kind ON entities (kind, id);
CREATE INDEX entities_by_generation ON entities (source_kind, generation);

-- Per SiPass kind: how many objects the Directory holds and the digest over their
-- (id, revision) pairs, kept in step with every write so that verification reads one row.
CREATE TABLE source_digest (
    source_kind TEXT PRIMARY KEY,
    count       INTEGER NOT NULL,
    digest      INTEGER NOT NULL
);

-- Where real-time synchronization stands: every change up to `revision` of the proxy cache
-- `cache_id` is in the Directory. Written in the same transaction as the changes.
CREATE TABLE watch_position (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    cache_id TEXT    NOT NULL,
    revision INTEGER NOT NULL
);

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
