/* Journal entries with fields, or one line each on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "text.h"

#define MESSAGE_MAX 1024
#define VALUE_MAX 256
#define FIELDS_MAX 16

/* One fixed id per kind of entry, so that `journalctl MESSAGE_ID=...`
 * finds every entry of that kind and the catalog can explain it. */
static const char *const message_ids[LOGID_COUNT] = {
        [LOGID_STORED] = "5cfbf82c0ab3489fbdfd4f95211e7b7f",
        [LOGID_REFUSED] = "9f246e168df04993ae9f80644a67fb34",
        [LOGID_AUTH_FAILED] = "1d29251d17ab442ba8485fd31d31c8ad",
        [LOGID_REJECTED] = "edd5a1b31b62410eaf3e05be91a570d8",
        [LOGID_DB_UNAVAILABLE] = "12fb9d28ec134271ae363d8a3c20385e",
        [LOGID_SPOOLED] = "d1a172e8d6414e18a219330e50614098",
        [LOGID_REPLAYED] = "ddb93d400ec845fabdb47f7f6d1f9857",
        [LOGID_DEAD_LETTER] = "e053c1b7a04346ceb44a8f60e4824b77",
        [LOGID_TLS_FAILURE] = "ada7ced160b048dfb86abb1e6182e860",
        [LOGID_STARTED] = "c65de684bb3746d9baf1a1100de1e346",
        [LOGID_IDLE_EXIT] = "5a263f2fec214951809779ea7d48aba7",
        [LOGID_TEST] = "b95cb2e59b954b28a3e8f86cc30b3e8e",
        [LOGID_IGNORED] = "28d67c5560be4250af9e853871927eea",
        [LOGID_CONFIG] = "c91fe203dbf94425bb5ee5d8f564dc01",
        [LOGID_STOPPING] = "1d070ba8ec964236ae09da0db09acaf5",
};

static const char *identifier = "stride-webhooks";
static bool use_journal;

void log_setup(const char *ident)
{
        if (ident)
                identifier = ident;

        /* JOURNAL_STREAM means systemd connected stderr to the journal;
         * the socket alone means a journal runs but we were started by
         * hand. Either way entries with fields can go there. */
        use_journal = getenv("JOURNAL_STREAM") != NULL ||
                      access("/run/systemd/journal/socket", W_OK) == 0;
}

const char *log_message_id(LogId id)
{
        return id < LOGID_COUNT ? message_ids[id] : NULL;
}

static const char *priority_word(int priority)
{
        static const char *const words[] = {
                "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
        };

        return priority >= 0 && priority <= LOG_DEBUG ? words[priority] : "info";
}

static void write_stderr(int priority, const char *message,
                         const LogField *fields, size_t n)
{
        char line[MESSAGE_MAX + FIELDS_MAX * (VALUE_MAX + 32)];
        size_t used;

        used = (size_t) snprintf(line, sizeof(line), "%s: %s: %s", identifier,
                                 priority_word(priority), message);
        for (size_t i = 0; i < n && used < sizeof(line); i++) {
                char value[VALUE_MAX];

                if (!fields[i].value)
                        continue;
                text_escape_for_log(fields[i].value, strlen(fields[i].value),
                                    value, sizeof(value));
                used += (size_t) snprintf(line + used, sizeof(line) - used,
                                          " %s=%s", fields[i].name, value);
        }
        fprintf(stderr, "%s\n", line);
}

static int write_journal(int priority, LogId id, const char *message,
                         const LogField *fields, size_t n)
{
        char buf[4 + FIELDS_MAX][VALUE_MAX + 64];
        char text[MESSAGE_MAX + 16];
        struct iovec iov[4 + FIELDS_MAX];
        size_t k = 0;

        snprintf(text, sizeof(text), "MESSAGE=%s", message);
        iov[k++] = (struct iovec) { text, strlen(text) };
        snprintf(buf[k], sizeof(buf[k]), "PRIORITY=%d", priority);
        iov[k] = (struct iovec) { buf[k], strlen(buf[k]) };
        k++;
        snprintf(buf[k], sizeof(buf[k]), "MESSAGE_ID=%s", log_message_id(id));
        iov[k] = (struct iovec) { buf[k], strlen(buf[k]) };
        k++;
        snprintf(buf[k], sizeof(buf[k]), "SYSLOG_IDENTIFIER=%s", identifier);
        iov[k] = (struct iovec) { buf[k], strlen(buf[k]) };
        k++;

        for (size_t i = 0; i < n && i < FIELDS_MAX; i++) {
                char value[VALUE_MAX];

                if (!fields[i].value)
                        continue;
                text_escape_for_log(fields[i].value, strlen(fields[i].value),
                                    value, sizeof(value));
                snprintf(buf[k], sizeof(buf[k]), "%s=%s", fields[i].name, value);
                iov[k] = (struct iovec) { buf[k], strlen(buf[k]) };
                k++;
        }

        return sd_journal_sendv(iov, (int) k);
}

void log_entry(int priority, LogId id, const LogField *fields, size_t n,
               const char *format, ...)
{
        char raw[MESSAGE_MAX];
        char message[MESSAGE_MAX];
        va_list ap;

        va_start(ap, format);
        vsnprintf(raw, sizeof(raw), format, ap);
        va_end(ap);

        /* Messages may quote client strings; make them printable. */
        text_escape_for_log(raw, strlen(raw), message, sizeof(message));

        if (use_journal && write_journal(priority, id, message, fields, n) >= 0)
                return;
        write_stderr(priority, message, fields, n);
}
