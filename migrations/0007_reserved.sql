-- Reserved for the panel branch's FTS5 migration (0007): a no-op here so
-- that the studio branch's 0008 applies on its own. DELETE THIS FILE when
-- the panel branch is merged (migrate.c refuses two migrations numbered 7,
-- so a merge that keeps both fails loudly at start-up).
SELECT 1;
