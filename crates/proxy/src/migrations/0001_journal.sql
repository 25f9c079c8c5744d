-- The event journal: one row per appended batch of entries (see journal/batch.rs), and its
-- counters (meta: the push sequence reached, the last sequence number, the forgotten mark).
CREATE TABLE batches (
    first_seq   INTEGER PRIMARY KEY,
    last_seq    INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    entries     BLOB    NOT NULL
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
