-- Moderation: each convener's decision on a held post, the senders a community refuses, and the
-- non-members already told in the room how to join (told once, across restarts).

CREATE TABLE "moderation_decision" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "decision" VARCHAR(16) NOT NULL,
    "reason" TEXT,
    "decided_by" VARCHAR(320) NOT NULL,
    "decided_at" TIMESTAMPTZ NOT NULL,
    "post_id" INT NOT NULL UNIQUE REFERENCES "post" ("id") ON DELETE CASCADE
);

CREATE TABLE "sender_ban" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "address" VARCHAR(320) NOT NULL,
    "reason" TEXT,
    "banned_by" VARCHAR(320) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_sender_ban_community_address" UNIQUE ("community_id", "address")
);

CREATE TABLE "join_hint" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "address" VARCHAR(320) NOT NULL,
    "told_at" TIMESTAMPTZ NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_join_hint_community_address" UNIQUE ("community_id", "address")
);
