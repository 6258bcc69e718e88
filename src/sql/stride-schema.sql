-- The four Stride tables stride-webhooks writes, for a database without
-- Stride (demos and tests): `stride-webhooks migrate --stride-schema`.
-- Column names, types, defaults and unique constraints follow Stride's
-- Prisma schema (packages/database/prisma/schema.prisma), so that a test
-- against these tables is a test against Stride. Everything is created
-- only when missing: run against Stride's own database it changes nothing.
-- "cycleId" stays a plain column: the cycles table is not ours to create.

BEGIN;

SET LOCAL client_min_messages = warning;
-- Two migrations at once take turns.
DO $$ BEGIN PERFORM pg_advisory_xact_lock(1398034773, 1); END $$;

DO $$ BEGIN
        CREATE TYPE "UserRole" AS ENUM ('Admin', 'Member', 'Viewer');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
        CREATE TYPE "IssueType" AS ENUM ('Bug', 'Feature', 'Task', 'Epic');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
        CREATE TYPE "Priority" AS ENUM ('Low', 'Medium', 'High', 'Critical');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
        CREATE TYPE "RepositoryServiceType"
                AS ENUM ('GitHub', 'GitLab', 'Bitbucket');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

-- Prisma generates ids and "updatedAt" in the client: no database
-- defaults for them, so every writer sets both.
CREATE TABLE IF NOT EXISTS "users" (
        "id"            text NOT NULL,
        "email"         text NOT NULL,
        "username"      text NOT NULL,
        "passwordHash"  text NOT NULL,
        "role"          "UserRole" NOT NULL DEFAULT 'Member',
        "name"          text,
        "avatarUrl"     text,
        "emailVerified" boolean NOT NULL DEFAULT false,
        "createdAt"     timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt"     timestamp(3) NOT NULL,
        CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "users_email_key" ON "users" ("email");
CREATE UNIQUE INDEX IF NOT EXISTS "users_username_key"
        ON "users" ("username");
CREATE INDEX IF NOT EXISTS "users_role_idx" ON "users" ("role");

CREATE TABLE IF NOT EXISTS "projects" (
        "id"             text NOT NULL,
        "key"            text NOT NULL,
        "name"           text NOT NULL,
        "description"    text,
        "configYaml"     text NOT NULL,
        "config"         jsonb NOT NULL DEFAULT '{}',
        "configVersion"  text,
        "repositoryUrl"  text,
        "repositoryType" "RepositoryServiceType",
        "createdAt"      timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt"      timestamp(3) NOT NULL,
        CONSTRAINT "projects_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "projects_key_key" ON "projects" ("key");
CREATE INDEX IF NOT EXISTS "projects_repositoryUrl_idx"
        ON "projects" ("repositoryUrl");

CREATE TABLE IF NOT EXISTS "issues" (
        "id"           text NOT NULL,
        "key"          text NOT NULL,
        "projectId"    text NOT NULL,
        "title"        varchar(255) NOT NULL,
        "description"  text,
        "status"       text NOT NULL,
        "type"         "IssueType" NOT NULL DEFAULT 'Task',
        "priority"     "Priority",
        "reporterId"   text NOT NULL,
        "assigneeId"   text,
        "cycleId"      text,
        "customFields" jsonb NOT NULL DEFAULT '{}',
        "storyPoints"  integer,
        "createdAt"    timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt"    timestamp(3) NOT NULL,
        "closedAt"     timestamp(3),
        CONSTRAINT "issues_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "issues_projectId_fkey" FOREIGN KEY ("projectId")
                REFERENCES "projects" ("id")
                ON DELETE CASCADE ON UPDATE CASCADE,
        CONSTRAINT "issues_reporterId_fkey" FOREIGN KEY ("reporterId")
                REFERENCES "users" ("id")
                ON DELETE RESTRICT ON UPDATE CASCADE,
        CONSTRAINT "issues_assigneeId_fkey" FOREIGN KEY ("assigneeId")
                REFERENCES "users" ("id")
                ON DELETE SET NULL ON UPDATE CASCADE
);
-- The daemon's key allocation relies on this constraint (DESIGN 7).
CREATE UNIQUE INDEX IF NOT EXISTS "issues_projectId_key_key"
        ON "issues" ("projectId", "key");
CREATE INDEX IF NOT EXISTS "issues_projectId_idx" ON "issues" ("projectId");
CREATE INDEX IF NOT EXISTS "issues_status_idx" ON "issues" ("status");
CREATE INDEX IF NOT EXISTS "issues_type_idx" ON "issues" ("type");
CREATE INDEX IF NOT EXISTS "issues_priority_idx" ON "issues" ("priority");
CREATE INDEX IF NOT EXISTS "issues_reporterId_idx" ON "issues" ("reporterId");
CREATE INDEX IF NOT EXISTS "issues_assigneeId_idx" ON "issues" ("assigneeId");
CREATE INDEX IF NOT EXISTS "issues_cycleId_idx" ON "issues" ("cycleId");
CREATE INDEX IF NOT EXISTS "issues_createdAt_idx" ON "issues" ("createdAt");
CREATE INDEX IF NOT EXISTS "issues_updatedAt_idx" ON "issues" ("updatedAt");
CREATE INDEX IF NOT EXISTS "issues_projectId_status_idx"
        ON "issues" ("projectId", "status");
CREATE INDEX IF NOT EXISTS "issues_projectId_type_idx"
        ON "issues" ("projectId", "type");
CREATE INDEX IF NOT EXISTS "issues_projectId_priority_idx"
        ON "issues" ("projectId", "priority");
CREATE INDEX IF NOT EXISTS "issues_projectId_updatedAt_idx"
        ON "issues" ("projectId", "updatedAt");
CREATE INDEX IF NOT EXISTS "issues_customFields_idx"
        ON "issues" USING gin ("customFields");

CREATE TABLE IF NOT EXISTS "comments" (
        "id"        text NOT NULL,
        "issueId"   text NOT NULL,
        "userId"    text NOT NULL,
        "content"   text NOT NULL,
        "isSystem"  boolean NOT NULL DEFAULT false,
        "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" timestamp(3),
        CONSTRAINT "comments_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "comments_issueId_fkey" FOREIGN KEY ("issueId")
                REFERENCES "issues" ("id")
                ON DELETE CASCADE ON UPDATE CASCADE,
        -- As Stride declares it (SetNull on a required column).
        CONSTRAINT "comments_userId_fkey" FOREIGN KEY ("userId")
                REFERENCES "users" ("id")
                ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE INDEX IF NOT EXISTS "comments_issueId_idx" ON "comments" ("issueId");
CREATE INDEX IF NOT EXISTS "comments_userId_idx" ON "comments" ("userId");
CREATE INDEX IF NOT EXISTS "comments_createdAt_idx"
        ON "comments" ("createdAt");
CREATE INDEX IF NOT EXISTS "comments_issueId_createdAt_idx"
        ON "comments" ("issueId", "createdAt");

COMMIT;
