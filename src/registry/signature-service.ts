/**
 * Signatures attached to versions. The signer signs on its side (core/model-signing.ts);
 * the registry checks what it is given before storing it — the bundle must verify with
 * the given public key and its statement must describe exactly the version's files and
 * digest — so a stored signature is always one over that version. Trust is the
 * verifier's business: `mvault verify --key` decides which key ids it accepts.
 */
import type { Kysely } from 'kysely';
import { canonicalJson } from '../core/canonical-json.js';
import { InvalidArgumentError, VerificationError } from '../core/errors.js';
import {
  checkBundle,
  keyIdOf,
  loadPublicKey,
  publicKeyPem,
  type SignatureBundle,
} from '../core/model-signing.js';
import type { FileEntry, MutationOptions, VersionSignature } from '../core/registry-api.js';
import type { RegistryDB } from '../metadata/schema.js';
import type { AuditService } from './audit-service.js';
import { resolveVersion } from './lookups.js';
import { actorOf, type RegistryContext } from './registry-context.js';

/** A bundle (canonical JSON) larger than this is refused: real ones are a few KiB per 100 files. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;
const MAX_PUBLIC_KEY_CHARS = 4096;

export class SignatureService {
  constructor(
    private readonly ctx: RegistryContext,
    private readonly audit: AuditService,
    /** The files of a manifest, by version digest. */
    private readonly files: (digest: string) => Promise<readonly FileEntry[]>,
  ) {}

  /** See RegistryApi.addSignature. */
  async add(
    ref: string,
    input: { readonly bundle: SignatureBundle; readonly publicKey: string },
    options?: MutationOptions,
  ): Promise<VersionSignature> {
    const actor = actorOf(this.ctx, options);
    if (input === null || typeof input !== 'object') {
      throw new InvalidArgumentError('signature input {bundle, publicKey} is required');
    }
    if (typeof input.publicKey !== 'string' || input.publicKey.length > MAX_PUBLIC_KEY_CHARS) {
      throw new InvalidArgumentError('publicKey must be a PEM text');
    }
    const key = loadPublicKey(input.publicKey);
    const keyId = keyIdOf(key);
    const bundleText = canonicalJson(input.bundle ?? null);
    if (bundleText.length > MAX_BUNDLE_BYTES) {
      throw new InvalidArgumentError(`signature bundle exceeds ${MAX_BUNDLE_BYTES} bytes`);
    }
    const db = this.ctx.database.db;
    const target = await resolveVersion(db, ref);
    const files = await this.files(target.version.manifest_digest);
    const check = checkBundle(input.bundle, key, {
      model: target.model.name,
      version: target.version.version,
      digest: target.version.manifest_digest,
      files,
    });
    if (!check.ok) {
      throw new VerificationError(
        `signature by key ${keyId.slice(0, 16)} is not valid for ${target.label}: ${check.problems.join('; ')}`,
        { version: target.label, keyId, problems: [...check.problems] },
      );
    }
    return this.ctx.database.writeTransaction(async (trx) => {
      // Resolve again under the write lock: `ref` may be an alias that moved meanwhile.
      const r = await resolveVersion(trx, ref);
      if (r.version.id !== target.version.id) {
        throw new VerificationError(`${ref} moved while its signature was checked; sign again`);
      }
      const now = this.ctx.now();
      const existing = await trx
        .selectFrom('version_signatures')
        .select('bundle')
        .where('version_id', '=', r.version.id)
        .where('key_id', '=', keyId)
        .executeTakeFirst();
      const row = {
        public_key: publicKeyPem(key),
        bundle: bundleText,
        created_by: actor,
        created_at: now,
      };
      if (existing?.bundle === bundleText) return this.load(trx, r.version.id, keyId);
      if (existing) {
        await trx
          .updateTable('version_signatures')
          .set(row)
          .where('version_id', '=', r.version.id)
          .where('key_id', '=', keyId)
          .execute();
      } else {
        await trx
          .insertInto('version_signatures')
          .values({ version_id: r.version.id, key_id: keyId, ...row })
          .execute();
      }
      await this.audit.append(trx, {
        actor,
        action: 'version.signed',
        subject: r.label,
        time: now,
        data: { keyId, digest: r.version.manifest_digest, replaced: existing !== undefined },
      });
      return this.load(trx, r.version.id, keyId);
    });
  }

  /** The version's signatures, by key id. */
  async list(ref: string): Promise<VersionSignature[]> {
    const db = this.ctx.database.db;
    const r = await resolveVersion(db, ref);
    const rows = await db
      .selectFrom('version_signatures')
      .selectAll()
      .where('version_id', '=', r.version.id)
      .orderBy('key_id')
      .execute();
    return rows.map(toSignature);
  }

  private async load(
    trx: Kysely<RegistryDB>,
    versionId: number,
    keyId: string,
  ): Promise<VersionSignature> {
    const row = await trx
      .selectFrom('version_signatures')
      .selectAll()
      .where('version_id', '=', versionId)
      .where('key_id', '=', keyId)
      .executeTakeFirstOrThrow();
    return toSignature(row);
  }
}

function toSignature(row: {
  key_id: string;
  public_key: string;
  bundle: string;
  created_by: string;
  created_at: number;
}): VersionSignature {
  return {
    keyId: row.key_id,
    publicKey: row.public_key,
    signedBy: row.created_by,
    createdAt: row.created_at,
    bundle: JSON.parse(row.bundle) as SignatureBundle,
  };
}
