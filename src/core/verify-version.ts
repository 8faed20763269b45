/**
 * Verifies a version's signatures where the verifier runs (the CLI, the SDK's caller),
 * trusting nothing the registry says beyond what it can check: the manifest must hash to
 * the version digest, and each signature must verify over its DSSE envelope and describe
 * exactly those files and that digest (core/model-signing.ts).
 *
 * With trusted keys, a signature counts only when made by one of them (`valid`); one by
 * another key that verifies with its own public key is `untrusted`; one that does not
 * verify is `invalid`. Without trusted keys, the signatures' own public keys are used.
 * The version passes (`ok`) when its files match its digest, no signature is invalid and
 * at least one is valid.
 */
import type { KeyObject } from 'node:crypto';
import { checkBundle, filesMatchDigest, keyIdOf, loadPublicKey } from './model-signing.js';
import type { RegistryApi } from './registry-api.js';

export interface SignatureStatus {
  readonly keyId: string;
  readonly signedBy: string;
  readonly createdAt: number;
  readonly status: 'valid' | 'untrusted' | 'invalid';
  readonly problems: readonly string[];
}

export interface VersionVerification {
  readonly ok: boolean;
  readonly model: string;
  readonly version: number;
  readonly digest: string;
  /** True when trusted keys were given (else the signatures' own keys were used). */
  readonly trustedKeysGiven: boolean;
  readonly signatures: readonly SignatureStatus[];
  /** Why the version fails, when it does. */
  readonly problems: readonly string[];
}

export async function verifyVersion(
  registry: Pick<RegistryApi, 'getVersion' | 'getManifest' | 'listSignatures'>,
  ref: string,
  options: { readonly trustedKeys?: readonly KeyObject[] } = {},
): Promise<VersionVerification> {
  const version = await registry.getVersion(ref);
  const pinned = `${version.model}@${version.version}`;
  const [manifest, signatures] = await Promise.all([
    registry.getManifest(pinned),
    registry.listSignatures(pinned),
  ]);
  const trusted = new Map((options.trustedKeys ?? []).map((k) => [keyIdOf(k), k]));
  const problems: string[] = [];
  if (manifest.digest !== version.digest || !filesMatchDigest(manifest.files, version.digest)) {
    problems.push(`the files listed for ${pinned} do not hash to its digest ${version.digest}`);
  }
  const subject = {
    model: version.model,
    version: version.version,
    digest: version.digest,
    files: manifest.files,
  };
  const statuses = signatures.map((s): SignatureStatus => {
    const trustedKey = trusted.get(s.keyId);
    let key: KeyObject | undefined = trustedKey;
    if (!key) {
      try {
        key = loadPublicKey(s.publicKey);
      } catch (e) {
        return { ...meta(s), status: 'invalid', problems: [(e as Error).message] };
      }
    }
    const check = checkBundle(s.bundle, key, subject);
    if (!check.ok) return { ...meta(s), status: 'invalid', problems: check.problems };
    if (check.keyId !== s.keyId) {
      return { ...meta(s), status: 'invalid', problems: [`key id ${s.keyId} is not its key's`] };
    }
    const status = trusted.size === 0 || trustedKey ? 'valid' : 'untrusted';
    return { ...meta(s), status, problems: [] };
  });
  for (const s of statuses) {
    if (s.status === 'invalid') problems.push(`signature by ${s.keyId}: ${s.problems.join('; ')}`);
  }
  if (signatures.length === 0) problems.push(`${pinned} is not signed`);
  else if (!statuses.some((s) => s.status === 'valid')) {
    problems.push(`${pinned} has no valid signature by a trusted key`);
  }
  return {
    ok: problems.length === 0,
    model: version.model,
    version: version.version,
    digest: version.digest,
    trustedKeysGiven: trusted.size > 0,
    signatures: statuses,
    problems,
  };
}

function meta(s: { keyId: string; signedBy: string; createdAt: number }) {
  return { keyId: s.keyId, signedBy: s.signedBy, createdAt: s.createdAt };
}
