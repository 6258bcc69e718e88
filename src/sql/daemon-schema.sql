-- The daemon's own schema, stride_webhooks, beside Stride's tables and
-- never inside them (DESIGN section 7): which issue each incident became,
-- which occurrences were counted, and the first answer to each body.
-- `stride-webhooks migrate` runs this file; it is idempotent. Stride's
-- tables are referred to unqualified, so they are found through the
-- search_path of the daemon's connection, as Stride's own client does.
--
-- Uniqueness is decided by constraints, never by a search followed by an
-- insert (DESIGN section 2): several daemons may share one database.

BEGIN;

SET LOCAL client_min_messages = warning;
-- Two migrations at once take turns.
DO $$ BEGIN PERFORM pg_advisory_xact_lock(1398034773, 2); END $$;

-- CREATE SCHEMA IF NOT EXISTS asks for CREATE on the database even when
-- the schema exists; a role that owns the schema needs no more than that.
DO $$
BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'stride_webhooks') THEN
                CREATE SCHEMA stride_webhooks;
        END IF;
END $$;

-- One row. The daemon refuses to work against any other version.
CREATE TABLE IF NOT EXISTS stride_webhooks.schema_version (
        singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version     integer NOT NULL,
        migrated_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
        v integer;
BEGIN
        SELECT version INTO v FROM stride_webhooks.schema_version;
        IF v > 1 THEN
                RAISE EXCEPTION 'the daemon schema is at version %, newer '
                        'than this stride-webhooks (1): install the newer '
                        'stride-webhooks', v;
        END IF;
END $$;

-- One row per provider incident. A tombstone (a resolve that arrived
-- before any trigger) has no issue_id.
-- XXX: incidents, occurrences and deliveries are never pruned; a busy
-- source grows them by a row per event until someone deletes old rows.
CREATE TABLE IF NOT EXISTS stride_webhooks.incidents (
        provider      text NOT NULL,
        project_id    text NOT NULL,
        external_id   text NOT NULL,
        issue_id      text,
        state         text NOT NULL
                      CHECK (state IN ('open', 'resolved', 'muted')),
        occurrences   bigint NOT NULL DEFAULT 0,
        link          text,
        -- The provider's time of the newest event seen, epoch ms; 0: none.
        last_event_ms bigint NOT NULL DEFAULT 0,
        first_seen    timestamptz NOT NULL DEFAULT now(),
        last_seen     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, project_id, external_id)
);
CREATE INDEX IF NOT EXISTS incidents_issue_id_idx
        ON stride_webhooks.incidents (issue_id);

-- Each provider event counted once, even when Sentry sends both
-- event_alert and error for it.
CREATE TABLE IF NOT EXISTS stride_webhooks.occurrences (
        provider      text NOT NULL,
        project_id    text NOT NULL,
        external_id   text NOT NULL,
        occurrence_id text NOT NULL,
        seen_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, project_id, external_id, occurrence_id),
        FOREIGN KEY (provider, project_id, external_id)
                REFERENCES stride_webhooks.incidents ON DELETE CASCADE
);

-- The first answer to each body; a redelivery within the replay window
-- gets it again.
CREATE TABLE IF NOT EXISTS stride_webhooks.deliveries (
        provider    text NOT NULL,
        project_id  text NOT NULL,
        digest      bytea NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        remote_addr text,
        status      integer NOT NULL,
        action      text,
        issue_id    text,
        issue_key   text,
        occurrences bigint,
        error       text,
        UNIQUE (provider, project_id, digest)
);
CREATE INDEX IF NOT EXISTS deliveries_received_at_idx
        ON stride_webhooks.deliveries (received_at);

-- The last issue number this daemon gave each project, so that a new key
-- costs index probes rather than a scan of the project's issues.
CREATE TABLE IF NOT EXISTS stride_webhooks.issue_numbers (
        project_id  text PRIMARY KEY,
        last_number bigint NOT NULL
);

DO $$ BEGIN
        CREATE TYPE stride_webhooks.ingest_result AS (
                status      integer,
                action      text,
                is_new      boolean,
                duplicate   boolean,
                issue_id    text,
                issue_key   text,
                occurrences bigint,
                error       text
        );
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Stride's "updatedAt" and friends: UTC, millisecond precision, as
-- Prisma writes them.
CREATE OR REPLACE FUNCTION stride_webhooks.stride_now()
RETURNS timestamp(3) LANGUAGE sql STABLE AS $$
        SELECT (now() AT TIME ZONE 'UTC')::timestamp(3)
$$;

-- The project a delivery goes to: the first of the URL's, PROJECT_MAP's
-- and STRIDE_PROJECT's key, else the only project there is.
CREATE OR REPLACE FUNCTION stride_webhooks.find_project(
        p_url text, p_mapped text, p_default text,
        OUT o_id text, OUT o_key text, OUT o_error text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
        v_key text := coalesce(nullif(p_url, ''), nullif(p_mapped, ''),
                               nullif(p_default, ''));
        v_ids text[];
        v_keys text[];
BEGIN
        IF v_key IS NOT NULL THEN
                SELECT "id", "key" INTO o_id, o_key
                        FROM projects WHERE "key" = v_key;
                IF NOT FOUND THEN
                        o_error := format('unknown project "%s"',
                                          left(v_key, 64));
                END IF;
                RETURN;
        END IF;

        SELECT array_agg(s."id"), array_agg(s."key") INTO v_ids, v_keys
                FROM (SELECT "id", "key" FROM projects LIMIT 2) s;
        IF cardinality(v_ids) = 1 THEN
                o_id := v_ids[1];
                o_key := v_keys[1];
        ELSE
                o_error := 'no project: add ?project=KEY to the URL, '
                        'or set PROJECT_MAP or STRIDE_PROJECT';
        END IF;
END $$;

-- The reporter of created issues and the author of system comments:
-- STRIDE_REPORTER by username or email, else the oldest Admin.
CREATE OR REPLACE FUNCTION stride_webhooks.find_reporter(
        p_reporter text, OUT o_id text, OUT o_error text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
        IF nullif(p_reporter, '') IS NOT NULL THEN
                SELECT "id" INTO o_id FROM users
                        WHERE "username" = p_reporter
                           OR lower("email") = lower(p_reporter)
                        ORDER BY ("username" = p_reporter) DESC
                        LIMIT 1;
                IF NOT FOUND THEN
                        o_error := format('STRIDE_REPORTER "%s" is no '
                                'Stride user: set it to the username or '
                                'email of an existing user',
                                left(p_reporter, 64));
                END IF;
                RETURN;
        END IF;

        SELECT "id" INTO o_id FROM users WHERE "role" = 'Admin'
                ORDER BY "createdAt", "id" LIMIT 1;
        IF NOT FOUND THEN
                o_error := 'no reporter for new issues: Stride has no Admin '
                        'user; create one or set STRIDE_REPORTER to the '
                        'username or email of a Stride user';
        END IF;
END $$;

-- Claims a body for its first answer. False when the same body for the
-- same provider and project was answered within the replay window.
CREATE OR REPLACE FUNCTION stride_webhooks.claim_delivery(
        p_provider text, p_project_id text, p_digest bytea,
        p_remote_addr text, p_window_sec integer)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
        INSERT INTO stride_webhooks.deliveries AS d
                (provider, project_id, digest, received_at, remote_addr,
                 status)
        VALUES (p_provider, p_project_id, p_digest, now(), p_remote_addr, 0)
        ON CONFLICT (provider, project_id, digest) DO UPDATE
                SET received_at = now(), remote_addr = EXCLUDED.remote_addr,
                    status = 0, action = NULL, issue_id = NULL,
                    issue_key = NULL, occurrences = NULL, error = NULL
                WHERE p_window_sec <= 0
                   OR d.received_at
                      < now() - make_interval(secs => p_window_sec);
        RETURN FOUND;
END $$;

-- Records an occurrence: true when it counts, i.e. the delivery is an
-- occurrence and its event id (when it has one) was not seen before.
CREATE OR REPLACE FUNCTION stride_webhooks.count_occurrence(
        p_provider text, p_project_id text, p_external_id text,
        p_occurrence boolean, p_occurrence_id text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
        IF nullif(p_occurrence_id, '') IS NOT NULL THEN
                INSERT INTO stride_webhooks.occurrences
                        (provider, project_id, external_id, occurrence_id)
                VALUES (p_provider, p_project_id, p_external_id,
                        p_occurrence_id)
                ON CONFLICT DO NOTHING;
                RETURN p_occurrence AND FOUND;
        END IF;
        RETURN p_occurrence;
END $$;

-- customFields with a new errorTrace; with p_push the previous one goes
-- to the front of errorTraces, which keeps the 20 latest. Keys others
-- wrote into customFields stay.
CREATE OR REPLACE FUNCTION stride_webhooks.with_trace(
        p_custom jsonb, p_trace jsonb, p_push boolean)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
        v_custom jsonb := CASE jsonb_typeof(p_custom)
                          WHEN 'object' THEN p_custom ELSE '{}' END;
        v_old jsonb := v_custom -> 'errorTrace';
        v_list jsonb := v_custom -> 'errorTraces';
BEGIN
        IF jsonb_typeof(v_list) IS DISTINCT FROM 'array' THEN
                v_list := '[]';
        END IF;
        IF p_push AND jsonb_typeof(v_old) = 'object' THEN
                SELECT coalesce(jsonb_agg(t.e ORDER BY t.i), '[]')
                        INTO v_list
                        FROM jsonb_array_elements(jsonb_build_array(v_old)
                                                  || v_list)
                             WITH ORDINALITY AS t(e, i)
                        WHERE t.i <= 20;
        END IF;
        RETURN v_custom || jsonb_build_object('errorTrace', p_trace,
                                              'errorTraces', v_list);
END $$;

-- customFields with a late occurrence (older than the current trace, by
-- the provider's clock): its trace goes among the earlier ones where its
-- time puts it, newest first, the 20 latest kept; the current trace
-- keeps its details and takes the new count.
CREATE OR REPLACE FUNCTION stride_webhooks.with_late_trace(
        p_custom jsonb, p_trace jsonb, p_count bigint)
RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
        v_custom jsonb := p_custom;
        v_list jsonb := p_custom -> 'errorTraces';
        v_at text := p_trace ->> 'timestamp';
BEGIN
        IF jsonb_typeof(v_list) IS DISTINCT FROM 'array' THEN
                v_list := '[]';
        END IF;
        -- The list is newest first: the late trace goes after those not
        -- older than it (and those without a time), before the rest.
        SELECT coalesce(jsonb_agg(s.e ORDER BY s.n), '[]') INTO v_list
                FROM (SELECT t.e, row_number() OVER (ORDER BY t.k, t.i) AS n
                      FROM (SELECT x.e, x.i,
                                   CASE WHEN x.e ->> 'timestamp' IS NULL
                                             OR x.e ->> 'timestamp' >= v_at
                                        THEN 0 ELSE 2 END AS k
                            FROM jsonb_array_elements(v_list)
                                 WITH ORDINALITY AS x(e, i)
                            UNION ALL
                            SELECT p_trace, 0, 1) t) s
                WHERE s.n <= 20;
        v_custom := jsonb_set(v_custom, '{errorTrace,occurrenceCount}',
                              to_jsonb(p_count));
        RETURN v_custom || jsonb_build_object('errorTraces', v_list);
END $$;

-- The description of an occurrence; a delivery without a link gets the
-- stored one (Sentry's resolved/assigned payloads carry none), written
-- as alert_render_description writes links: http(s) only, with the
-- characters that would end a Markdown link percent-encoded.
CREATE OR REPLACE FUNCTION stride_webhooks.with_link(
        p_description text, p_link text, p_new_link text, p_display text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE
                WHEN p_description IS NULL OR p_new_link IS NOT NULL
                     OR p_link IS NULL OR p_link !~* '^https?://'
                     THEN p_description
                ELSE concat_ws(E'\n\n', nullif(p_description, ''),
                        '[View in ' || p_display || ']('
                        || replace(replace(replace(replace(replace(replace(
                           replace(replace(replace(replace(p_link,
                           ' ', '%20'), '(', '%28'), ')', '%29'),
                           '<', '%3C'), '>', '%3E'), '"', '%22'),
                           chr(92), '%5C'), '`', '%60'), E'\t', '%09'),
                           E'\n', '%0A')
                        || ')')
        END
$$;

-- The system comment a state change leaves on the issue.
CREATE OR REPLACE FUNCTION stride_webhooks.event_comment(
        p_event text, p_kind text, p_actor text, p_display text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE p_event
                WHEN 'resolve' THEN 'Resolved in ' || p_display
                        || coalesce(' (' || p_kind || ')', '')
                WHEN 'reopen' THEN 'Reopened: '
                        || coalesce(p_kind, 'the alert') || ' fired again in '
                        || p_display
                WHEN 'late' THEN 'Resolved in ' || p_display
                        || ' before the alert arrived'
                WHEN 'assign' THEN coalesce('Assigned to ' || p_actor
                        || ' in ', 'Assigned in ') || p_display
                WHEN 'acknowledge' THEN 'Acknowledged in ' || p_display
                        || coalesce(' by ' || p_actor, '')
                WHEN 'mute' THEN 'Ignored in ' || p_display
                        || ': recorded, not closed'
        END
$$;

CREATE OR REPLACE FUNCTION stride_webhooks.add_comment(
        p_issue_id text, p_user_id text, p_content text)
RETURNS void LANGUAGE sql AS $$
        INSERT INTO comments ("id", "issueId", "userId", "content",
                              "isSystem", "createdAt", "updatedAt")
        VALUES (gen_random_uuid()::text, p_issue_id, p_user_id, p_content,
                true, stride_webhooks.stride_now(),
                stride_webhooks.stride_now())
$$;

-- Inserts an issue under the project's next key, the highest number plus
-- one. The advisory lock orders our own writers. Stride does not take it:
-- the numbers it gave since our last one are stepped over, and one it is
-- giving right now shows up as a unique violation and we take the next.
CREATE OR REPLACE FUNCTION stride_webhooks.create_issue(
        p_project_id text, p_project_key text, p_title text,
        p_description text, p_priority text, p_reporter_id text,
        p_custom jsonb, p_status text, p_closed boolean,
        OUT o_id text, OUT o_key text)
LANGUAGE plpgsql AS $$
DECLARE
        v_prefix text := p_project_key || '-';
        v_n bigint;
        v_tries integer := 0;
        v_now timestamp(3) := stride_webhooks.stride_now();
BEGIN
        PERFORM pg_advisory_xact_lock(1398034772, hashtext(p_project_id));

        SELECT last_number INTO v_n FROM stride_webhooks.issue_numbers
                WHERE project_id = p_project_id;
        IF NOT FOUND THEN
                SELECT coalesce(max(substr("key", length(v_prefix) + 1)
                                    ::bigint), 0)
                        INTO v_n FROM issues
                        WHERE "projectId" = p_project_id
                          AND starts_with("key", v_prefix)
                          AND substr("key", length(v_prefix) + 1)
                              ~ '^[0-9]{1,18}$';
        END IF;
        -- Stride numbers its issues one after the other too.
        WHILE EXISTS (SELECT 1 FROM issues WHERE "projectId" = p_project_id
                      AND "key" = v_prefix || (v_n + 1)) LOOP
                v_n := v_n + 1;
        END LOOP;

        LOOP
                v_n := v_n + 1;
                v_tries := v_tries + 1;
                o_id := gen_random_uuid()::text;
                o_key := v_prefix || v_n;
                BEGIN
                        INSERT INTO issues ("id", "key", "projectId",
                                "title", "description", "status", "type",
                                "priority", "reporterId", "customFields",
                                "createdAt", "updatedAt", "closedAt")
                        VALUES (o_id, o_key, p_project_id,
                                left(p_title, 255), p_description, p_status,
                                'Bug', p_priority::"Priority", p_reporter_id,
                                p_custom, v_now, v_now,
                                CASE WHEN p_closed THEN v_now END);
                        INSERT INTO stride_webhooks.issue_numbers
                                (project_id, last_number)
                        VALUES (p_project_id, v_n)
                        ON CONFLICT (project_id) DO UPDATE
                                SET last_number = EXCLUDED.last_number;
                        RETURN;
                EXCEPTION WHEN unique_violation THEN
                        IF v_tries >= 1000 THEN
                                RAISE;
                        END IF;
                END;
        END LOOP;
END $$;

-- One delivery, whole, in one round trip (DESIGN section 7). Expected
-- refusals (422, 503) come back as the result, never raised, so that the
-- other deliveries of the same transaction go on.
CREATE OR REPLACE FUNCTION stride_webhooks.ingest(
        p_provider text, p_event text, p_occurrence boolean,
        p_occurrence_id text, p_external_id text,
        p_url_project text, p_mapped_project text, p_default_project text,
        p_reporter text, p_auto_resolve_status text, p_reopen_status text,
        p_replay_window_sec integer, p_digest bytea, p_remote_addr text,
        p_title text, p_priority text, p_description text,
        p_error_trace text, p_link text, p_event_ms bigint, p_actor text,
        p_kind text, p_provider_display text)
RETURNS stride_webhooks.ingest_result LANGUAGE plpgsql AS $$
DECLARE
        r stride_webhooks.ingest_result;
        v_project record;
        v_reporter record;
        v_inc stride_webhooks.incidents;
        v_issue record;
        v_fresh boolean;
        v_counted boolean;
        v_late boolean;
        v_create boolean := false;
        v_closed boolean := false;
        v_trace jsonb := coalesce(nullif(p_error_trace, '')::jsonb, '{}');
        v_now timestamp(3) := stride_webhooks.stride_now();
        v_display text := coalesce(p_provider_display, p_provider);
        v_reopen text := coalesce(nullif(p_reopen_status, ''), 'Backlog');
        v_auto text := nullif(p_auto_resolve_status, '');
        v_note text;
BEGIN
        IF jsonb_typeof(v_trace) <> 'object' THEN
                v_trace := '{}';
        END IF;
        r.is_new := false;
        r.duplicate := false;
        r.action := 'failed';

        SELECT * INTO v_project FROM stride_webhooks.find_project(
                p_url_project, p_mapped_project, p_default_project);
        IF v_project.o_error IS NOT NULL THEN
                r.status := 422;
                r.error := v_project.o_error;
                RETURN r;
        END IF;

        SELECT * INTO v_reporter
                FROM stride_webhooks.find_reporter(p_reporter);
        IF v_reporter.o_error IS NOT NULL THEN
                r.status := 503;
                r.error := v_reporter.o_error;
                RETURN r;
        END IF;

        IF NOT stride_webhooks.claim_delivery(p_provider, v_project.o_id,
                        p_digest, p_remote_addr, p_replay_window_sec) THEN
                SELECT d.status, d.action, d.action = 'created', true,
                       d.issue_id, d.issue_key, d.occurrences, d.error
                        INTO r
                        FROM stride_webhooks.deliveries d
                        WHERE d.provider = p_provider
                          AND d.project_id = v_project.o_id
                          AND d.digest = p_digest;
                RETURN r;
        END IF;

        INSERT INTO stride_webhooks.incidents
                (provider, project_id, external_id, state)
        VALUES (p_provider, v_project.o_id, p_external_id, 'open')
        ON CONFLICT DO NOTHING;
        v_fresh := FOUND;

        SELECT * INTO STRICT v_inc FROM stride_webhooks.incidents i
                WHERE i.provider = p_provider
                  AND i.project_id = v_project.o_id
                  AND i.external_id = p_external_id
                FOR UPDATE;

        IF v_inc.issue_id IS NOT NULL THEN
                SELECT "key", "priority"::text AS priority
                        INTO v_issue FROM issues
                        WHERE "id" = v_inc.issue_id FOR UPDATE;
                -- Deleted in Stride: the incident starts over.
                v_fresh := NOT FOUND;
        END IF;

        -- Older than what we know, by the provider's clock: a delivery
        -- that was retried or queued behind newer ones.
        v_late := p_event_ms > 0 AND p_event_ms < v_inc.last_event_ms;

        IF v_fresh THEN
                IF p_event = 'resolve' THEN
                        v_inc.state := 'resolved';
                        v_inc.issue_id := NULL;
                        v_inc.occurrences := 0;
                        r.status := 200;
                        r.action := 'recorded';
                ELSE
                        v_create := true;
                END IF;
        ELSIF v_inc.issue_id IS NULL THEN
                IF p_event = 'resolve' THEN
                        r.status := 200;
                        r.action := 'recorded';
                ELSE
                        -- After a tombstone only a trigger newer than the
                        -- resolve is a new firing; anything else belongs
                        -- to the incident that is already over.
                        v_create := true;
                        v_closed := p_event <> 'open' OR p_event_ms <= 0
                                OR p_event_ms <= v_inc.last_event_ms;
                END IF;
        END IF;

        IF v_create THEN
                PERFORM stride_webhooks.count_occurrence(p_provider,
                        v_project.o_id, p_external_id, true,
                        p_occurrence_id);
                v_inc.occurrences := 1;
                v_inc.state := CASE WHEN v_closed THEN 'resolved'
                                    ELSE 'open' END;
                SELECT * INTO v_issue FROM stride_webhooks.create_issue(
                        v_project.o_id, v_project.o_key,
                        coalesce(nullif(p_title, ''), p_kind, p_external_id),
                        stride_webhooks.with_link(p_description, v_inc.link,
                                                  p_link, v_display),
                        p_priority, v_reporter.o_id,
                        jsonb_build_object(
                                'errorTrace', v_trace
                                        || '{"occurrenceCount": 1}',
                                'errorTraces', '[]'::jsonb,
                                'source', jsonb_build_object(
                                        'provider', p_provider,
                                        'externalId', p_external_id)),
                        CASE WHEN v_closed THEN coalesce(v_auto, 'Backlog')
                             ELSE 'Backlog' END,
                        v_closed AND v_auto IS NOT NULL);
                v_inc.issue_id := v_issue.o_id;
                r.issue_key := v_issue.o_key;
                IF v_closed THEN
                        PERFORM stride_webhooks.add_comment(v_inc.issue_id,
                                v_reporter.o_id, stride_webhooks.event_comment(
                                        'late', p_kind, p_actor, v_display));
                END IF;
                IF p_event IN ('assign', 'acknowledge', 'mute') THEN
                        PERFORM stride_webhooks.add_comment(v_inc.issue_id,
                                v_reporter.o_id, stride_webhooks.event_comment(
                                        p_event, p_kind, p_actor, v_display));
                END IF;
                IF p_event = 'mute' THEN
                        v_inc.state := 'muted';
                END IF;
                r.status := 201;
                r.action := 'created';
                r.is_new := true;
        ELSIF v_inc.issue_id IS NOT NULL THEN
                r.issue_key := v_issue."key";
                r.status := 200;
                r.action := 'updated';

                IF p_event = 'open' THEN
                        v_counted := stride_webhooks.count_occurrence(
                                p_provider, v_project.o_id, p_external_id,
                                p_occurrence, p_occurrence_id);
                        IF v_counted THEN
                                v_inc.occurrences := v_inc.occurrences + 1;
                        END IF;
                        v_trace := v_trace || jsonb_build_object(
                                'occurrenceCount', v_inc.occurrences);

                        IF v_late THEN
                                -- Counted, but the stored details are newer:
                                -- it is one of the earlier occurrences.
                                UPDATE issues SET
                                        "customFields" =
                                                stride_webhooks.with_late_trace(
                                                        "customFields", v_trace,
                                                        v_inc.occurrences),
                                        "updatedAt" = v_now
                                        WHERE "id" = v_inc.issue_id
                                          AND v_counted
                                          AND jsonb_typeof("customFields"
                                                -> 'errorTrace') = 'object';
                        ELSE
                                UPDATE issues SET
                                        "description" = coalesce(
                                                stride_webhooks.with_link(
                                                        p_description,
                                                        v_inc.link, p_link,
                                                        v_display),
                                                "description"),
                                        "customFields" =
                                                stride_webhooks.with_trace(
                                                        "customFields",
                                                        v_trace, v_counted),
                                        "updatedAt" = v_now
                                        WHERE "id" = v_inc.issue_id;
                        END IF;

                        IF v_inc.state = 'resolved' AND NOT v_late THEN
                                -- Move the issue only when the resolve moved
                                -- it or someone closed it: an issue still
                                -- being worked on keeps its status.
                                UPDATE issues SET
                                        "status" = v_reopen,
                                        "closedAt" = NULL
                                        WHERE "id" = v_inc.issue_id
                                          AND ("closedAt" IS NOT NULL
                                               OR "status" = v_auto);
                                PERFORM stride_webhooks.add_comment(
                                        v_inc.issue_id, v_reporter.o_id,
                                        stride_webhooks.event_comment(
                                                'reopen', p_kind, p_actor,
                                                v_display));
                                v_inc.state := 'open';
                                r.action := 'reopened';
                        ELSIF v_inc.state = 'muted' AND NOT v_late THEN
                                v_inc.state := 'open';
                        END IF;
                ELSIF p_event = 'resolve' THEN
                        r.action := 'resolved';
                        IF v_inc.state <> 'resolved' THEN
                                v_inc.state := 'resolved';
                                PERFORM stride_webhooks.add_comment(
                                        v_inc.issue_id, v_reporter.o_id,
                                        stride_webhooks.event_comment(
                                                'resolve', p_kind, p_actor,
                                                v_display));
                                UPDATE issues SET "status" = v_auto,
                                        "closedAt" = v_now,
                                        "updatedAt" = v_now
                                        WHERE "id" = v_inc.issue_id
                                          AND v_auto IS NOT NULL;
                        END IF;
                ELSIF p_event = 'mute' THEN
                        IF v_inc.state <> 'muted' THEN
                                v_inc.state := 'muted';
                                PERFORM stride_webhooks.add_comment(
                                        v_inc.issue_id, v_reporter.o_id,
                                        stride_webhooks.event_comment(
                                                'mute', p_kind, p_actor,
                                                v_display));
                        END IF;
                ELSIF p_event IN ('assign', 'acknowledge') THEN
                        PERFORM stride_webhooks.add_comment(v_inc.issue_id,
                                v_reporter.o_id, stride_webhooks.event_comment(
                                        p_event, p_kind, p_actor, v_display));
                ELSIF p_event = 'update' THEN
                        -- A change without a firing: what it does not say,
                        -- the stored trace still knows.
                        UPDATE issues SET
                                "customFields" = stride_webhooks.with_trace(
                                        "customFields",
                                        CASE jsonb_typeof("customFields"
                                                -> 'errorTrace')
                                        WHEN 'object' THEN
                                                "customFields" -> 'errorTrace'
                                        ELSE '{}' END
                                        || jsonb_strip_nulls(v_trace)
                                        || jsonb_build_object(
                                                'occurrenceCount',
                                                v_inc.occurrences),
                                        false),
                                "priority" = coalesce(
                                        p_priority::"Priority", "priority"),
                                "updatedAt" = v_now
                                WHERE "id" = v_inc.issue_id;
                        IF p_priority IS DISTINCT FROM v_issue.priority
                           AND p_priority IS NOT NULL THEN
                                v_note := CASE
                                        WHEN v_issue.priority IS NULL THEN
                                                format('Priority set to %s in %s',
                                                       p_priority, v_display)
                                        ELSE format('Priority changed from %s '
                                                    'to %s in %s',
                                                    v_issue.priority,
                                                    p_priority, v_display)
                                        END;
                                PERFORM stride_webhooks.add_comment(
                                        v_inc.issue_id, v_reporter.o_id,
                                        v_note);
                        END IF;
                ELSE
                        RAISE EXCEPTION 'unknown event "%"', p_event;
                END IF;
        END IF;

        UPDATE stride_webhooks.incidents i SET
                issue_id = v_inc.issue_id,
                state = v_inc.state,
                occurrences = v_inc.occurrences,
                link = coalesce(nullif(p_link, ''), i.link),
                last_event_ms = greatest(i.last_event_ms,
                                         coalesce(p_event_ms, 0)),
                last_seen = now()
                WHERE i.provider = p_provider
                  AND i.project_id = v_project.o_id
                  AND i.external_id = p_external_id;

        r.issue_id := v_inc.issue_id;
        r.occurrences := v_inc.occurrences;

        UPDATE stride_webhooks.deliveries d SET
                status = r.status, action = r.action,
                issue_id = r.issue_id, issue_key = r.issue_key,
                occurrences = r.occurrences
                WHERE d.provider = p_provider
                  AND d.project_id = v_project.o_id
                  AND d.digest = p_digest;
        RETURN r;
END $$;

INSERT INTO stride_webhooks.schema_version (version) VALUES (1)
        ON CONFLICT (singleton) DO UPDATE
        SET version = EXCLUDED.version, migrated_at = now();

COMMIT;
