-- Lookups that read too much (issue #14).
--
-- The panel's search as one types: the last word is a prefix (search.c),
-- and FTS5 answers a prefix from an index of its own only at the lengths
-- listed here; at any other length it reads and merges the whole list of
-- every word that begins so before it can return the page's first row.
-- With 2 and 3 only, "union"* over 100 000 messages took 5 to 10 ms of
-- CPU and "солидар"* 0.5 ms, against 0.03 to 0.08 ms with these lengths
-- (scripts/bench panel); the index about doubles in size (17 MB for
-- 100 000 messages). Prefixes longer than 12 characters take the slow
-- path still: the longest words of the campaign's languages fit under it
-- ("салідарнасць" is 12).
--
-- The index is made again with the same source and tokenizer; its
-- triggers refer to it by name and stay as they are.
DROP TABLE message_search;
CREATE VIRTUAL TABLE message_search USING fts5(text,
    content = 'message_search_source', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5 6 7 8 9 10 11 12');
INSERT INTO message_search (message_search) VALUES ('rebuild');
INSERT INTO message_search (message_search) VALUES ('optimize');

-- A target's last job (a version of a clip, a campaign's logo: db.c's
-- STMT_JOB_LAST_OF_TARGET, four times for each clip the library shows)
-- read the whole jobs table; jobs_live_target holds only live jobs.
CREATE INDEX jobs_target ON jobs(kind, target, id);
