-- Audit log: every moderation, tagging, practice and subscription action, who did it and when,
-- written in the transaction of the action itself.

CREATE TABLE "audit_event" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "at" TIMESTAMPTZ NOT NULL,
    "actor" VARCHAR(320) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "target" VARCHAR(400) NOT NULL,
    "detail" TEXT NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_audit_event_community_at" ON "audit_event" ("community_id", "at");
