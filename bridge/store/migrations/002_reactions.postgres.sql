-- Reactions: each Matrix reaction kept by its event id, so a replayed reaction counts once and a
-- redacted one can be taken back from the post's reaction count.

CREATE TABLE "reaction" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "event_id" VARCHAR(255) NOT NULL UNIQUE,
    "key" VARCHAR(255) NOT NULL,
    "sender" VARCHAR(320) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_reaction_post_sender_key" UNIQUE ("post_id", "sender", "key")
);
