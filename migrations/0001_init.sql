-- The first schema: users and their sessions, messages with their upload
-- and media facts, the job queue, reshare marks and the audit log.
-- Times are Unix seconds (UTC). Ids of messages are random, URL-safe.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE
        CHECK (length(username) BETWEEN 1 AND 64),
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role TEXT NOT NULL CHECK (role IN ('admin', 'moderator', 'comms')),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- A session token is random and stored only as its SHA-256.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);

-- One contributed video. Contributor-given fields are cleared when the
-- message is withdrawn; the row stays so the audit log still points
-- somewhere.
CREATE TABLE messages (
    id TEXT PRIMARY KEY CHECK (length(id) = 22),
    status TEXT NOT NULL CHECK (status IN ('uploading', 'processing',
        'pending', 'approved', 'rejected', 'failed', 'withdrawn')),
    receipt_hash BLOB UNIQUE CHECK (length(receipt_hash) = 32),
    name TEXT CHECK (length(name) <= 200),
    organization TEXT CHECK (length(organization) <= 200),
    country TEXT CHECK (country GLOB '[A-Z][A-Z]'),
    language TEXT CHECK (length(language) BETWEEN 2 AND 35),
    message TEXT CHECK (length(message) <= 500),
    filetype TEXT CHECK (length(filetype) <= 100),
    consent_version TEXT CHECK (length(consent_version) <= 32),
    consent_scope TEXT CHECK (consent_scope IN ('public', 'union')),
    consent_at INTEGER,
    -- The upload (tus): declared length, bytes on disk, expiry.
    upload_length INTEGER CHECK (upload_length >= 0),
    upload_offset INTEGER NOT NULL DEFAULT 0 CHECK (upload_offset >= 0),
    upload_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    received_at INTEGER,
    -- Media facts, set when processing succeeds.
    duration_ms INTEGER CHECK (duration_ms >= 0),
    width INTEGER CHECK (width > 0),
    height INTEGER CHECK (height > 0),
    has_audio INTEGER CHECK (has_audio IN (0, 1)),
    video_bytes INTEGER CHECK (video_bytes >= 0),
    facts TEXT, -- JSON written by the worker
    failure_reason TEXT,
    -- The moderation decision.
    decided_by INTEGER REFERENCES users(id),
    decided_at INTEGER,
    decision_reason TEXT CHECK (length(decision_reason) <= 1000),
    withdrawn_at INTEGER,
    -- Last time the clip left in a ZIP export (to find posts to take
    -- down if the contributor withdraws it later).
    exported_at INTEGER,
    CHECK (upload_length IS NULL OR upload_offset <= upload_length),
    CHECK ((status IN ('approved', 'rejected')) = (decided_at IS NOT NULL)
        OR status = 'withdrawn'),
    CHECK (status <> 'withdrawn' OR (name IS NULL AND organization IS NULL
        AND message IS NULL))
);
-- The review queue and the library: newest or oldest first by status,
-- and by country or language within a status.
CREATE INDEX messages_status ON messages(status, created_at, id);
CREATE INDEX messages_country ON messages(status, country, created_at, id);
CREATE INDEX messages_language ON messages(status, language, created_at, id);
CREATE INDEX messages_upload_expiry ON messages(upload_expires_at)
    WHERE status = 'uploading';

-- The job queue. A running job holds a lease; one whose lease expired
-- (its worker died) is claimed again. At most one live job per message.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'transcode' CHECK (kind IN ('transcode')),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done',
        'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_after INTEGER NOT NULL,
    lease_until INTEGER,
    worker TEXT,
    progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    seconds REAL, -- wall time of the successful attempt
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((state = 'running') = (lease_until IS NOT NULL))
);
CREATE INDEX jobs_claim ON jobs(state, run_after, id);
CREATE INDEX jobs_lease ON jobs(state, lease_until);
CREATE UNIQUE INDEX jobs_live ON jobs(message_id)
    WHERE state IN ('queued', 'running');

-- What the comms team reshared where; approved messages only.
CREATE TABLE reshares (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (length(channel) BETWEEN 1 AND 64),
    url TEXT CHECK (length(url) <= 2000),
    user_id INTEGER NOT NULL REFERENCES users(id),
    at INTEGER NOT NULL
);
CREATE INDEX reshares_message ON reshares(message_id);

-- Every decision, login and user change. Each row's hash covers its
-- content and the previous row's hash, so an edit breaks the chain.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    reason TEXT,
    prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_target ON audit(target, id);
CREATE INDEX audit_action ON audit(action, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Messages per status, kept by triggers so the panel's counts cost one
-- small read however many messages there are.
CREATE TABLE status_counts (
    status TEXT PRIMARY KEY,
    n INTEGER NOT NULL DEFAULT 0 CHECK (n >= 0)
) WITHOUT ROWID;
INSERT INTO status_counts (status) VALUES ('uploading'), ('processing'),
    ('pending'), ('approved'), ('rejected'), ('failed'), ('withdrawn');
CREATE TRIGGER status_count_insert AFTER INSERT ON messages
BEGIN
    UPDATE status_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER status_count_delete AFTER DELETE ON messages
BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER status_count_update AFTER UPDATE OF status ON messages
    WHEN OLD.status <> NEW.status
BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE status_counts SET n = n + 1 WHERE status = NEW.status;
END;
