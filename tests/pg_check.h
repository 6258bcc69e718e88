/* PostgreSQL helpers for the tests that need a database of their own. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

/* The same server and role as conn, another database: a conninfo string
 * the caller frees. */
static inline char *pg_check_conninfo_for(PGconn *conn, const char *dbname)
{
        PQconninfoOption *opts = PQconninfo(conn);
        size_t size = 4096, len = 0;
        char *out = calloc(1, size);

        for (PQconninfoOption *o = opts; out && o && o->keyword; o++) {
                const char *v = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;

                if (!v || !*v)
                        continue;
                len += (size_t) snprintf(out + len, size - len, "%s='", o->keyword);
                for (const char *p = v; *p && len + 4 < size; p++) {
                        if (*p == '\'' || *p == '\\')
                                out[len++] = '\\';
                        out[len++] = *p;
                }
                len += (size_t) snprintf(out + len, size - len, "' ");
        }
        PQconninfoFree(opts);
        return out;
}
