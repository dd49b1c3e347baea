-- Parked messages: mail or Matrix events that could not be handled, kept with their raw bytes and the
-- reason, so the stream moves on past them and a convener can re-process or discard them (DESIGN §8).

CREATE TABLE "parked_message" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "source" VARCHAR(255) NOT NULL,
    "origin" VARCHAR(255) NOT NULL,
    "position" VARCHAR(64),
    "sender" VARCHAR(320),
    "subject" VARCHAR(998),
    "data" BLOB NOT NULL,
    "size" BIGINT NOT NULL,
    "reason" TEXT NOT NULL,
    "failure" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "parked_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "told_at" TIMESTAMP,
    "resolved_at" TIMESTAMP,
    "community_id" INT REFERENCES "community" ("id") ON DELETE SET NULL,
    CONSTRAINT "uq_parked_message_channel_origin" UNIQUE ("channel", "origin")
);
CREATE INDEX "ix_parked_message_state" ON "parked_message" ("state");
