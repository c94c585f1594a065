//! Schema migrations. `PRAGMA user_version` holds the number of migrations applied;
//! pending ones run in one transaction. Append only: never edit a released migration.

/// The migrations, in order. Index `i` brings the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: foundation.
    r#"
CREATE TABLE stores (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    root          TEXT    NOT NULL,
    staging       TEXT    NOT NULL,
    ingestable    INTEGER NOT NULL CHECK (ingestable IN (0, 1)),
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    reserve_bytes INTEGER NOT NULL CHECK (reserve_bytes >= 0),
    created_at    INTEGER NOT NULL
);

CREATE TABLE files (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL CHECK (size >= 0),
    checksum   TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('file', 'directory')),
    uploader   TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX files_created_at ON files (created_at);

CREATE TABLE file_entries (
    file_id INTEGER NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    path    TEXT    NOT NULL,
    kind    TEXT    NOT NULL CHECK (kind IN ('file', 'directory')),
    size    INTEGER NOT NULL CHECK (size >= 0),
    digest  TEXT,
    PRIMARY KEY (file_id, path),
    CHECK ((kind = 'file') = (digest IS NOT NULL))
) WITHOUT ROWID;

CREATE TABLE instances (
    id              INTEGER PRIMARY KEY,
    file_id         INTEGER NOT NULL REFERENCES files (id),
    store_id        INTEGER NOT NULL REFERENCES stores (id),
    path            TEXT    NOT NULL,
    available       INTEGER NOT NULL CHECK (available IN (0, 1)),
    deletion_policy TEXT    NOT NULL CHECK (deletion_policy IN ('allowed', 'disallowed')),
    created_at      INTEGER NOT NULL,
    verified_at     INTEGER,
    UNIQUE (store_id, path)
);
CREATE INDEX instances_file ON instances (file_id);

CREATE TABLE remote_instances (
    id          INTEGER PRIMARY KEY,
    file_id     INTEGER NOT NULL REFERENCES files (id),
    librarian   TEXT    NOT NULL,
    store       TEXT    NOT NULL,
    copied_at   INTEGER NOT NULL,
    verified_at INTEGER,
    UNIQUE (file_id, librarian, store)
);

CREATE TABLE ingest_intents (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    store_id    INTEGER NOT NULL REFERENCES stores (id),
    staging_dir TEXT    NOT NULL,
    moved_from  TEXT,
    created_at  INTEGER NOT NULL
);
"#,
    // 2: accounts that may call our shim, and the peers we call.
    r#"
CREATE TABLE peers (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL UNIQUE,
    url               TEXT    NOT NULL,
    account           TEXT    NOT NULL,
    password          TEXT    NOT NULL,
    transfers_enabled INTEGER NOT NULL CHECK (transfers_enabled IN (0, 1)),
    created_at        INTEGER NOT NULL
);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    level         TEXT    NOT NULL CHECK (level IN ('admin', 'read-append', 'read-only', 'callback')),
    peer_id       INTEGER REFERENCES peers (id),
    created_at    INTEGER NOT NULL,
    CHECK (level <> 'callback' OR peer_id IS NOT NULL)
);
"#,
    // 3: background tasks: one row per task with its lease and last run.
    r#"
CREATE TABLE task_runs (
    task          TEXT    PRIMARY KEY,
    lease_owner   TEXT,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    last_started  INTEGER,
    last_finished INTEGER,
    last_result   TEXT    CHECK (last_result IN ('ok', 'failed')),
    last_message  TEXT
);
"#,
    // 4: events for operators, the outbox of calls to peers, and the calls received
    // from peers (by idempotency key, so a repeat has the effect of one).
    r#"
CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    peer_id         INTEGER NOT NULL REFERENCES peers (id),
    call_key        TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('holds')),
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX outbox_peer ON outbox (peer_id, id);

CREATE TABLE received_calls (
    peer_id     INTEGER NOT NULL REFERENCES peers (id) ON DELETE CASCADE,
    call_key    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    response    TEXT    NOT NULL,
    PRIMARY KEY (peer_id, call_key)
);
"#,
    // 5: transfers between sites and the batches that move them; outbox calls and
    // event categories for cloning (the CHECKs change, so both tables are rebuilt).
    r#"
CREATE TABLE transfer_batches (
    id         INTEGER PRIMARY KEY,
    peer_id    INTEGER NOT NULL REFERENCES peers (id),
    manager    TEXT    NOT NULL CHECK (manager IN ('local', 'rsync')),
    state      TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX transfer_batches_running ON transfer_batches (status) WHERE status = 'running';

CREATE TABLE transfers (
    id          INTEGER PRIMARY KEY,
    direction   TEXT    NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    peer_id     INTEGER NOT NULL REFERENCES peers (id),
    remote_id   INTEGER,
    file_name   TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    checksum    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('file', 'directory')),
    uploader    TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN
                    ('initiated', 'ongoing', 'staged', 'completed', 'failed', 'cancelled')),
    manager     TEXT    CHECK (manager IN ('local', 'rsync', 'sneakernet')),
    store_id    INTEGER REFERENCES stores (id),
    local_path  TEXT,
    remote_path TEXT,
    batch_id    INTEGER REFERENCES transfer_batches (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    error_code  TEXT,
    error       TEXT
);
CREATE UNIQUE INDEX transfers_active ON transfers (direction, peer_id, file_name)
    WHERE status IN ('initiated', 'ongoing', 'staged');
CREATE UNIQUE INDEX transfers_incoming_remote ON transfers (peer_id, remote_id) WHERE direction = 'incoming';
CREATE INDEX transfers_status ON transfers (status, updated_at);
CREATE INDEX transfers_batch ON transfers (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX transfers_peer_file ON transfers (peer_id, file_name);
CREATE INDEX remote_instances_librarian ON remote_instances (librarian, file_id);

CREATE TABLE outbox_v5 (
    id              INTEGER PRIMARY KEY,
    peer_id         INTEGER NOT NULL REFERENCES peers (id),
    call_key        TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('holds', 'staged', 'complete', 'fail')),
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);
INSERT INTO outbox_v5 SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
CREATE INDEX outbox_peer ON outbox (peer_id, id);

CREATE TABLE events_v5 (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict', 'transfer_failed')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
INSERT INTO events_v5 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;
"#,
    // 6: SneakerNet: event categories for full stores and finished drives.
    r#"
CREATE TABLE events_v6 (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict', 'transfer_failed',
                      'store_full', 'drive_done')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
INSERT INTO events_v6 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v6 RENAME TO events;
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;
"#,
    // 7: a received call remembers a digest of its kind and canonical body, so the
    // same idempotency key with another call is refused instead of replayed. Calls
    // remembered before have none (their kind is still compared).
    r#"
ALTER TABLE received_calls ADD COLUMN request_digest TEXT;
"#,
    // 8: the catalog's own integrity check (`verify`) raises `catalog_corrupt`.
    r#"
CREATE TABLE events_v8 (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict', 'transfer_failed',
                      'store_full', 'drive_done', 'catalog_corrupt')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
INSERT INTO events_v8 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v8 RENAME TO events;
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;
"#,
    // 9: a file keeps its creation time at its origin (`created_at`, which a clone or
    // a drive now carries) and records its arrival here apart (`arrived_at`). Until
    // now `created_at` was the arrival, so it is copied. A transfer carries the
    // origin's creation time to the receiver (NULL: unknown, an older sender).
    r#"
ALTER TABLE files ADD COLUMN arrived_at INTEGER NOT NULL DEFAULT 0;
UPDATE files SET arrived_at = created_at;
CREATE INDEX files_arrived_at ON files (arrived_at);
ALTER TABLE transfers ADD COLUMN file_created_at INTEGER;
"#,
    // 10: the Globus transfer manager (`manager = 'globus'`) and the event category
    // `needs_attention`. The CHECKs change, so the three tables are rebuilt: the
    // child (`transfers`) is copied and dropped before its parent
    // (`transfer_batches`), so no foreign key ever points at a missing row.
    r#"
CREATE TABLE transfer_batches_v10 (
    id         INTEGER PRIMARY KEY,
    peer_id    INTEGER NOT NULL REFERENCES peers (id),
    manager    TEXT    NOT NULL CHECK (manager IN ('local', 'rsync', 'globus')),
    state      TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO transfer_batches_v10 SELECT * FROM transfer_batches;

CREATE TABLE transfers_v10 (
    id          INTEGER PRIMARY KEY,
    direction   TEXT    NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    peer_id     INTEGER NOT NULL REFERENCES peers (id),
    remote_id   INTEGER,
    file_name   TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    checksum    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('file', 'directory')),
    uploader    TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN
                    ('initiated', 'ongoing', 'staged', 'completed', 'failed', 'cancelled')),
    manager     TEXT    CHECK (manager IN ('local', 'rsync', 'sneakernet', 'globus')),
    store_id    INTEGER REFERENCES stores (id),
    local_path  TEXT,
    remote_path TEXT,
    batch_id    INTEGER REFERENCES transfer_batches (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    error_code  TEXT,
    error       TEXT,
    file_created_at INTEGER
);
INSERT INTO transfers_v10 SELECT * FROM transfers;
DROP TABLE transfers;
DROP TABLE transfer_batches;
ALTER TABLE transfer_batches_v10 RENAME TO transfer_batches;
ALTER TABLE transfers_v10 RENAME TO transfers;
CREATE INDEX transfer_batches_running ON transfer_batches (status) WHERE status = 'running';
CREATE UNIQUE INDEX transfers_active ON transfers (direction, peer_id, file_name)
    WHERE status IN ('initiated', 'ongoing', 'staged');
CREATE UNIQUE INDEX transfers_incoming_remote ON transfers (peer_id, remote_id) WHERE direction = 'incoming';
CREATE INDEX transfers_status ON transfers (status, updated_at);
CREATE INDEX transfers_batch ON transfers (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX transfers_peer_file ON transfers (peer_id, file_name);

CREATE TABLE events_v10 (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict', 'transfer_failed',
                      'store_full', 'drive_done', 'catalog_corrupt', 'needs_attention')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
INSERT INTO events_v10 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v10 RENAME TO events;
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;
"#,
    // 11: the data life-cycle. An instance has a state: `ok` (available), `corrupt`
    // or `missing` (found so by a verification; kept, not used, until repaired),
    // `deleting` then `deleted` (removed by rolling deletion or `drop`, never the last
    // good copy: `deleting` from the commit until its bytes are gone),
    // `retired` (a drive copy delivered or recycled). `available` stays, and is
    // exactly `state = 'ok'`. A remote instance records what its site last answered
    // when asked to re-verify it. New event categories for damaged copies.
    r#"
CREATE TABLE instances_v11 (
    id              INTEGER PRIMARY KEY,
    file_id         INTEGER NOT NULL REFERENCES files (id),
    store_id        INTEGER NOT NULL REFERENCES stores (id),
    path            TEXT    NOT NULL,
    available       INTEGER NOT NULL CHECK (available IN (0, 1)),
    deletion_policy TEXT    NOT NULL CHECK (deletion_policy IN ('allowed', 'disallowed')),
    created_at      INTEGER NOT NULL,
    verified_at     INTEGER,
    state           TEXT    NOT NULL DEFAULT 'ok'
                    CHECK (state IN ('ok', 'corrupt', 'missing', 'deleting', 'deleted', 'retired')),
    state_reason    TEXT,
    state_at        INTEGER,
    UNIQUE (store_id, path),
    CHECK ((state = 'ok') = (available = 1))
);
INSERT INTO instances_v11 (id, file_id, store_id, path, available, deletion_policy, created_at, verified_at,
                           state, state_reason, state_at)
    SELECT id, file_id, store_id, path, available, deletion_policy, created_at, verified_at,
           CASE available WHEN 1 THEN 'ok' ELSE 'retired' END,
           CASE available WHEN 1 THEN NULL ELSE 'a drive copy, delivered' END,
           NULL
    FROM instances;
DROP TABLE instances;
ALTER TABLE instances_v11 RENAME TO instances;
CREATE INDEX instances_file ON instances (file_id, state);
CREATE INDEX instances_scrub ON instances (verified_at) WHERE state = 'ok';
CREATE INDEX instances_aging ON instances (store_id, created_at) WHERE state = 'ok';

ALTER TABLE remote_instances ADD COLUMN state TEXT NOT NULL DEFAULT 'ok'
    CHECK (state IN ('ok', 'corrupt', 'missing'));
ALTER TABLE remote_instances ADD COLUMN checked_at INTEGER;
CREATE INDEX remote_instances_checks ON remote_instances (file_id, state, verified_at);

CREATE TABLE events_v11 (
    id           INTEGER PRIMARY KEY,
    severity     TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    category     TEXT    NOT NULL CHECK (category IN
                     ('peer_unreachable', 'peer_refused', 'call_refused', 'conflict', 'transfer_failed',
                      'store_full', 'drive_done', 'catalog_corrupt', 'needs_attention',
                      'instance_corrupt', 'instance_missing', 'scrub_behind')),
    subject      TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    count        INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    cleared_at   INTEGER
);
INSERT INTO events_v11 SELECT * FROM events;
DROP TABLE events;
ALTER TABLE events_v11 RENAME TO events;
CREATE UNIQUE INDEX events_open ON events (category, subject) WHERE cleared_at IS NULL;

CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 12: alerts (issue 13, item 8): queued for, and delivered to, the
    // `[alerts]` sinks: one row per (event, sink, kind). No foreign key to `events`,
    // so a later migration may rebuild that table (as 6, 8 and 10 did) while rows
    // here point at its ids.
    r#"
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL,
    sink            TEXT    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('open', 'cleared')),
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    UNIQUE (event_id, sink, kind)
);
CREATE INDEX alert_deliveries_queued ON alert_deliveries (sink, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_deliveries_sent ON alert_deliveries (sink, delivered_at) WHERE delivered_at IS NOT NULL;
"#,
    // 13: imports from the original Librarian (issue 14): a file keeps the original's
    // exact checksum text beside our canonical one (`xxh3:::<hex>`, `md5:::<hex>` or a
    // bare md5 there; `xxh3:<hex>`, `md5:<hex>` in `checksum`), and may gain a BLAKE3
    // digest beside a legacy checksum (`import-original --verify`). A transfer brought
    // from the original carries its key there (`original:<site>:<in|out>:<id>`), so a
    // second import finds it and adds nothing.
    r#"
ALTER TABLE files ADD COLUMN original_checksum TEXT;
ALTER TABLE files ADD COLUMN blake3 TEXT;
ALTER TABLE transfers ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX transfers_import_key ON transfers (import_key) WHERE import_key IS NOT NULL;
"#,
    // 14: the protocol a peer speaks (issue 14): ours, or the original Librarian's
    // `/api/v2` for a site that still runs it.
    r#"
ALTER TABLE peers ADD COLUMN protocol TEXT NOT NULL DEFAULT 'librarian'
    CHECK (protocol IN ('librarian', 'original-v2'));
"#,
];
