-- Entities for bulk loading: a full synchronization writes a million rows of about 1.2 kB.
-- In a WITHOUT ROWID table every row sits in the primary key's B-tree, so each insert moves
-- whole rows around (SQLite advises it only for rows under about a twentieth of a page); a
-- rowid table appends each row once and keeps only the short keys in its indexes. Same
-- columns, same rows, same uniqueness of (source_kind, id, kind).
CREATE TABLE entities_by_row (
    row_id      INTEGER PRIMARY KEY,
    source_kind TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    primary_row INTEGER NOT NULL,
    revision    INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    generation  INTEGER NOT NULL
);

INSERT INTO entities_by_row (source_kind, id, kind, primary_row, revision, name, fields, generation)
    SELECT source_kind, id, kind, primary_row, revision, name, fields, generation
    FROM entities ORDER BY source_kind, id, kind;

DROP TABLE entities;
ALTER TABLE entities_by_row RENAME TO entities;

CREATE UNIQUE INDEX entities_by_source ON entities (source_kind, id, kind);
CREATE INDEX entities_by_kind ON entities (kind, id, source_kind);
CREATE INDEX entities_by_generation ON entities (source_kind, generation);
