-- Login names are compared case-folded in every script, not only ASCII
-- (users.username's COLLATE NOCASE): name_key is the name's Unicode
-- simple case folding (src/fold.c), unique, and what a login looks up.
-- Every name so far was ASCII, where lower() is that folding.
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(username);
CREATE UNIQUE INDEX users_name_key ON users(name_key);
