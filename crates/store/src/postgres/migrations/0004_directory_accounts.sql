-- Config Tool accounts: users, user groups, partitions and who belongs where; API tokens.
-- Passwords are kept only as argon2 PHC strings, tokens only as SHA-256 digests.

CREATE TABLE users (
    name                 TEXT PRIMARY KEY,
    role                 TEXT    NOT NULL CHECK (role IN ('administrator', 'operator')),
    password_hash        TEXT    NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE user_groups (
    name TEXT PRIMARY KEY
);

CREATE TABLE partitions (
    name TEXT PRIMARY KEY
);

-- The built-in partition SiPass entities belong to unless said otherwise.
INSERT INTO partitions (name) VALUES ('SiPass');

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE ON UPDATE CASCADE,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (group_name, user_name)
);

CREATE TABLE user_partitions (
    user_name      TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
    partition_name TEXT NOT NULL REFERENCES partitions (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (user_name, partition_name)
);

CREATE TABLE group_partitions (
    group_name     TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE ON UPDATE CASCADE,
    partition_name TEXT NOT NULL REFERENCES partitions (name) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (group_name, partition_name)
);

CREATE TABLE api_tokens (
    digest    TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
    label     TEXT NOT NULL
);
