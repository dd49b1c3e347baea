-- Value stories: a member's account of how a practice or thread helped, kept beside the post that
-- told it (one story per post) and cited to a thread, whose practice it is counted for.

CREATE TABLE "story" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "author_name" VARCHAR(200) NOT NULL,
    "author_address" VARCHAR(320) NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "text" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "author_id" INT REFERENCES "person" ("id") ON DELETE SET NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "post_id" INT NOT NULL UNIQUE REFERENCES "post" ("id") ON DELETE CASCADE,
    "thread_id" INT NOT NULL REFERENCES "thread" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_story_community_created_at" ON "story" ("community_id", "created_at");
CREATE INDEX "ix_story_thread" ON "story" ("thread_id");
