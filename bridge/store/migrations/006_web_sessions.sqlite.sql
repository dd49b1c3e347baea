-- Web archive: signed-in sessions (only a hash of each cookie token is kept), sign-in links that work
-- once and are counted per person and hour, and an index for a community's recent threads.

CREATE TABLE "web_session" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "token_hash" VARCHAR(64) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_web_session_person" ON "web_session" ("person_id");

CREATE TABLE "sign_in_link" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "nonce_hash" VARCHAR(64) NOT NULL UNIQUE,
    "channel" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "expires_at" TIMESTAMP NOT NULL,
    "used_at" TIMESTAMP,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_sign_in_link_person_created_at" ON "sign_in_link" ("person_id", "created_at");

CREATE INDEX "ix_thread_community_last_activity_at" ON "thread" ("community_id", "last_activity_at");
