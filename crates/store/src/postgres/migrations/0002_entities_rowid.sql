-- SQLite's 0002 moved entities out of a WITHOUT ROWID table; a PostgreSQL table is a heap
-- already, with its primary key a separate index. What remains of that step here is its
-- index by kind, which also carries the SiPass kind so that a page by kind reads the index.
DROP INDEX entities_by_kind;
CREATE INDEX entities_by_kind ON entities (kind, id, source_kind);
