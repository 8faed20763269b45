/**
 * Tables of authentication and permissions (migrations `0400-auth`, `0401-capability-epoch`), owned by
 * `src/registry/access-control.ts`. Timestamps are integer ms, booleans 0/1, JSON as text.
 */

export interface UsersTable {
  name: string;
  /** scrypt output, base64. */
  password_hash: string;
  /** Per-user random salt, base64. */
  password_salt: string;
  /** JSON `{N, r, p, keylen}`: the parameters the hash was made with. */
  password_params: string;
  is_admin: number;
  created_at: number;
  disabled_at: number | null;
  /**
   * Migration 0401: the generation signed request capabilities must carry; raised to
   * revoke every capability minted before (user-service.ts).
   */
  capability_epoch: number;
}

export interface ApiTokensTable {
  /** Public id: `mvt_` + 8 hex characters, also the first 12 characters of the secret. */
  id: string;
  /** SHA-256 (hex) of the whole secret. */
  secret_sha256: string;
  name: string;
  user_name: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface PermissionsTable {
  user_name: string;
  /** 'registered_model' | 'experiment'. */
  resource_kind: string;
  /** registered_models.id or experiments.id. */
  resource_id: number;
  /** A PermissionLevel. */
  level: string;
  granted_at: number;
}

export interface AuthSettingsTable {
  key: string;
  value: string;
}

export interface AuthTables {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  permissions: PermissionsTable;
  auth_settings: AuthSettingsTable;
}
