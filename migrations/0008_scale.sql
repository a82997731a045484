-- Scale (DESIGN.md "Scale"): remote workers' tokens.

-- Bearer tokens of remote workers (`chorus worker-token add NAME`): only
-- the token's SHA-256 is stored; a revoked one is refused from the next
-- request on. last_seen_at is written at most once a minute a token.
CREATE TABLE worker_tokens (
    name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32
        AND name NOT GLOB '*[^A-Za-z0-9._-]*' AND name NOT GLOB '.*'),
    hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    last_seen_at INTEGER
);
