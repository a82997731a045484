#include "chorus/queue.h"

#include "chorus/db.h"
#include "chorus/util.h"

int queue_enqueue(struct db *db, const char *message_id)
{
    struct db_stmt *st = db_stmt(db, STMT_JOB_ENQUEUE);
    int rc;

    if (st == NULL)
        return DB_ERROR;
    db_bind_text(st, 1, message_id);
    db_bind_int(st, 2, util_now());
    rc = db_step(st);
    return rc < 0 ? rc : 0;
}
