-- The plugin database: what the role records from SiPass (events today; alarms, the activity
-- trail and the offline acknowledgement queue join it), apart from the Directory so that a
-- burst of events never waits behind a synchronization, and the other way round.

-- Identity and small values: the role's stable id (how the proxy tells its acknowledgements
-- from another role's).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Where reading the proxy's event journal stands: the journal (its identity changes when
-- the proxy's journal is recreated) and the last sequence stored. Written in the same
-- transaction as the events, so that a restart resumes exactly after what is stored.
CREATE TABLE event_position (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    journal_id TEXT    NOT NULL,
    sequence   INTEGER NOT NULL
);

-- One row per SiPass event stored: the custom event (SiPass's type name) and the native
-- events the mapping names ("|"-separated, empty when none). (journal_id, journal_seq) is
-- unique: an entry delivered twice is stored once. `sipass_id` is SiPass's own event id,
-- kept so that anyone can check against SiPass that nothing is missing or doubled.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    journal_id    TEXT    NOT NULL,
    journal_seq   INTEGER NOT NULL,
    sipass_id     TEXT    NOT NULL,
    occurred_at   TEXT    NOT NULL,
    occurred_ms   INTEGER NOT NULL,
    journaled_ms  INTEGER NOT NULL,
    sipass_type   TEXT    NOT NULL,
    native_events TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    known_type    INTEGER NOT NULL,
    message       TEXT    NOT NULL,
    -- The entities it concerns, with their names at the time: a JSON array of
    -- {kind, id, name}, read with the event.
    entities      TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    UNIQUE (journal_id, journal_seq)
);
CREATE INDEX events_by_time ON events (occurred_ms);

-- Which events concern an entity (by SiPass token), for filtering: one index row per link,
-- the kinds and names being in the event's own row.
CREATE TABLE event_entities (
    entity_id TEXT    NOT NULL,
    event_id  INTEGER NOT NULL,
    PRIMARY KEY (entity_id, event_id)
) WITHOUT ROWID;

-- What was done with the journal's entries, by outcome and category or type (stored,
-- ignored by a logging switch, ignored by name, unknown type stored as custom), so that
-- nothing is dropped without being counted.
CREATE TABLE event_counters (
    counter TEXT    PRIMARY KEY,
    count   INTEGER NOT NULL
);
