-- The proxy cache: its identity and counters (meta), every SiPass object with the revision of
-- its latest change (entities), one change-log row per changed object (changes), and each
-- kind's count and digest (kind_stats).
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entities (
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    owner    TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX entities_by_owner ON entities (kind, owner) WHERE owner <> '';
CREATE TABLE changes (
    revision INTEGER PRIMARY KEY,
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    deleted  INTEGER NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX changes_by_entity ON changes (kind, id);
CREATE TABLE kind_stats (kind TEXT PRIMARY KEY, count INTEGER NOT NULL, digest INTEGER NOT NULL);
