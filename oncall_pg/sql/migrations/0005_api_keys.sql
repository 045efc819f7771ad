-- API keys (issue 12): who may call the HTTP server, and for what.
--
-- * Only a hash of each key is stored: the SHA-256 of a high-entropy random
--   secret (oncall_server._keys), which the server looks up by hash.
-- * A name stays taken after its key is revoked: revoked rows are kept, so that
--   the record of who had access, and until when, is never rewritten.
-- * teams is empty for a key that may use every team.

CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CONSTRAINT api_keys_name_key UNIQUE,
    hash         text NOT NULL CONSTRAINT api_keys_hash_key UNIQUE
                 CONSTRAINT api_keys_hash_check CHECK (hash ~ '^[0-9a-f]{64}$'),
    scope        text NOT NULL
                 CONSTRAINT api_keys_scope_check CHECK (scope IN ('read', 'write', 'admin')),
    teams        text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
