-- Login throttling moved out of the users row (issue 9, item 4): failures are
-- counted per account name and client address in each server's memory, the
-- same way for accounts that exist and names that do not. What stays in the
-- row is when an operator last cleared the account's throttles (unlock,
-- password reset): servers drop any failures counted before that time.

-- +goose Up
ALTER TABLE users ADD COLUMN login_reset_at INTEGER;
ALTER TABLE users DROP COLUMN failed_logins;
ALTER TABLE users DROP COLUMN locked_until;

-- +goose Down
ALTER TABLE users ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER;
ALTER TABLE users DROP COLUMN login_reset_at;
