-- Onboarding: each newcomer is welcomed once, on their channel (a mail, or a notice in the room); a
-- row per welcome, pending until sent and retried while a server is down. Members already there
-- before this step count as welcomed, so an upgrade greets nobody twice.

CREATE TABLE "welcome" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "address" VARCHAR(320) NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ NOT NULL,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "sent_at" TIMESTAMPTZ,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "membership_id" INT REFERENCES "membership" ("id") ON DELETE SET NULL,
    CONSTRAINT "uq_welcome_community_address" UNIQUE ("community_id", "address")
);
CREATE INDEX "ix_welcome_state_next_attempt_at" ON "welcome" ("state", "next_attempt_at");
CREATE INDEX "ix_welcome_membership" ON "welcome" ("membership_id");

INSERT INTO "welcome" ("address", "channel", "state", "attempts", "next_attempt_at", "created_at",
                       "community_id", "membership_id")
SELECT COALESCE((SELECT "i"."address" FROM "identity" "i"
                 WHERE "i"."person_id" = "m"."person_id" AND "i"."kind" = 'email'
                 ORDER BY "i"."id" LIMIT 1), 'membership:' || "m"."id"),
       'email', 'skipped', 0, now(), now(), "m"."community_id", "m"."id"
FROM "membership" "m";
