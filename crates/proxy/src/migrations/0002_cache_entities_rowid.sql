-- Entities for bulk loading: the first load writes a million cardholders of about 1.2 kB.
-- In a WITHOUT ROWID table every row sits in the primary key's B-tree, so each insert moves
-- whole rows around (SQLite advises it only for rows under about a twentieth of a page); a
-- rowid table appends each row once and keeps only the short keys in its indexes. Same
-- columns, same rows, same uniqueness of (kind, id).
CREATE TABLE entities_by_row (
    row_id   INTEGER PRIMARY KEY,
    kind     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    payload  BLOB    NOT NULL,
    owner    TEXT    NOT NULL
);

INSERT INTO entities_by_row (kind, id, revision, name, payload, owner)
    SELECT kind, id, revision, name, payload, owner FROM entities ORDER BY kind, id;

DROP TABLE entities;
ALTER TABLE entities_by_row RENAME TO entities;

CREATE UNIQUE INDEX entities_by_id ON entities (kind, id);
CREATE INDEX entities_by_owner ON entities (kind, owner) WHERE owner <> '';
