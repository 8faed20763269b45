/**
 * Version signatures in the OpenSSF model-signing format (sigstore/model-transparency,
 * `model_signing` v1.x, "private key" signing), with ed25519 keys:
 *
 *   Sigstore bundle  {mediaType: application/vnd.dev.sigstore.bundle.v0.3+json,
 *                     verificationMaterial: {publicKey: {hint: KEYID}, tlogEntries: []},
 *                     dsseEnvelope: {payload: base64(STATEMENT),
 *                                    payloadType: application/vnd.in-toto+json,
 *                                    signatures: [{sig: base64(ed25519(PAE)), keyid: KEYID}]}}
 *   PAE              "DSSEv1" SP len(payloadType) SP payloadType SP len(payload) SP payload
 *   STATEMENT        {_type: https://in-toto.io/Statement/v1,
 *                     subject: [{name: MODEL, digest: {sha256: ROOT}}],
 *                     predicateType: https://model_signing/signature/v1.0,
 *                     predicate: {serialization: {method: files, hash_type: sha256,
 *                                                 allow_symlinks: false, ignore_paths: []},
 *                                 resources: [{name: PATH, algorithm: sha256, digest: HEX}…],
 *                                 modelvault: {model, version, manifestDigest}}}
 *   ROOT             SHA-256 over the concatenated raw (32-byte) digests of the resources,
 *                    in resource order (paths sorted, as in the manifest)
 *   KEYID            SHA-256 hex of the public key's PEM (SPKI) text, as model-signing's hint
 *
 * `predicate.modelvault` is our extension (v1.0 verifiers ignore unknown predicate fields):
 * it binds the signature to the version digest, the SHA-256 of the manifest's canonical
 * JSON, which also covers file sizes. Differences from model-signing: ed25519 instead of
 * ECDSA P-256/384/521 (model-signing's key verifier accepts EC keys only), and the DSSE
 * signature carries the key id (model-signing leaves `keyid` empty; DSSE allows either).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { InvalidArgumentError } from './errors.js';
import { manifestDigest } from './manifest-json.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const MODEL_SIGNING_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';

export interface SignatureBundle {
  readonly mediaType: string;
  readonly verificationMaterial: {
    readonly publicKey: { readonly hint: string };
    readonly tlogEntries: readonly unknown[];
  };
  readonly dsseEnvelope: {
    readonly payload: string;
    readonly payloadType: string;
    readonly signatures: readonly { readonly sig: string; readonly keyid: string }[];
  };
}

export interface SignedFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** What a signature is over: one version's identity and files. */
export interface SigningSubject {
  readonly model: string;
  readonly version: number;
  /** The version (manifest) digest. */
  readonly digest: string;
  /** The manifest's files, in manifest order. */
  readonly files: readonly SignedFile[];
}

/** DSSE pre-authentication encoding (secure-systems-lab/dsse protocol v1). */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

/** model-signing's root digest: SHA-256 of the resources' raw digests, in order. */
export function rootDigest(resources: readonly { readonly digest: string }[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(Buffer.from(r.digest, 'hex'));
  return h.digest('hex');
}

/** The in-toto statement a signature over `subject` signs. */
export function signingStatement(subject: SigningSubject): Record<string, unknown> {
  const resources = subject.files.map((f) => ({
    name: f.path,
    algorithm: 'sha256',
    digest: f.sha256,
  }));
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: subject.model, digest: { sha256: rootDigest(resources) } }],
    predicateType: MODEL_SIGNING_PREDICATE_TYPE,
    predicate: {
      serialization: {
        method: 'files',
        hash_type: 'sha256',
        allow_symlinks: false,
        ignore_paths: [],
      },
      resources,
      modelvault: {
        model: subject.model,
        version: subject.version,
        manifestDigest: subject.digest,
      },
    },
  };
}

// ------------------------------------------------------------------------- keys

/** A fresh ed25519 key pair as PEM text (PKCS#8 private, SPKI public). */
export function generateSigningKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function ed25519(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentError(`${what} is a ${key.asymmetricKeyType} key, not ed25519`);
  }
  return key;
}

/** @throws InvalidArgumentError unless `pem` is an ed25519 private key. */
export function loadPrivateKey(pem: string | Uint8Array): KeyObject {
  try {
    return ed25519(createPrivateKey(pem as string), 'the private key');
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    throw new InvalidArgumentError(`not a PEM private key: ${(e as Error).message}`);
  }
}

/** Accepts a public or a private key PEM (its public half). @throws InvalidArgumentError */
export function loadPublicKey(pem: string | Uint8Array): KeyObject {
  try {
    return ed25519(createPublicKey(pem as string), 'the public key');
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    throw new InvalidArgumentError(`not a PEM public key: ${(e as Error).message}`);
  }
}

export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'pem' }).toString();
}

/** The key id: SHA-256 hex of the public key's PEM text (model-signing's key hint). */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(publicKeyPem(key), 'utf8').digest('hex');
}

// ---------------------------------------------------------------- sign / check

/** Signs `subject` with an ed25519 private key: the bundle to attach to the version. */
export function signVersion(subject: SigningSubject, privateKey: KeyObject): SignatureBundle {
  const keyid = keyIdOf(privateKey);
  const payload = Buffer.from(canonicalJson(signingStatement(subject)), 'utf8');
  const sig = sign(null, pae(IN_TOTO_PAYLOAD_TYPE, payload), privateKey);
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: keyid }, tlogEntries: [] },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: sig.toString('base64'), keyid }],
    },
  };
}

export interface BundleCheck {
  /** True when the signature verifies and the statement describes exactly `subject`. */
  readonly ok: boolean;
  /** Key id of the public key used. */
  readonly keyId: string;
  /** What is wrong, in the order checked (empty when ok). */
  readonly problems: readonly string[];
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Checks `bundle` against `publicKey` and `subject`: media and payload types, the hint,
 * the ed25519 signature over the PAE, the statement's types, that its resources are the
 * version's files and its subject the root digest of them, and that the recorded version
 * digest is the version's. Never throws for a malformed bundle: reports it.
 */
export function checkBundle(
  bundle: unknown,
  publicKey: KeyObject,
  subject: SigningSubject,
): BundleCheck {
  const keyId = keyIdOf(publicKey);
  const problems: string[] = [];
  const done = () => ({ ok: problems.length === 0, keyId, problems });
  const statement = openEnvelope(bundle, publicKey, keyId, problems);
  if (!statement) return done();
  const predicate = obj(statement.predicate);
  const resources = Array.isArray(predicate?.resources) ? predicate.resources : [];
  const listed = resources.map((r) => {
    const o = obj(r);
    return { name: String(o?.name), algorithm: String(o?.algorithm), digest: String(o?.digest) };
  });
  const expected = subject.files.map((f) => `${f.path}\u0000${f.sha256}`).join('\n');
  const got = listed.map((r) => `${r.name}\u0000${r.digest}`).join('\n');
  if (listed.some((r) => r.algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(r.digest))) {
    problems.push('a resource is not a sha256 digest');
  } else if (got !== expected) {
    problems.push(`the signed files are not ${subject.model}@${subject.version}'s files`);
  }
  checkRoot(statement, listed, problems);
  const mv = obj(predicate?.modelvault);
  if (mv && mv.manifestDigest !== subject.digest) {
    problems.push(
      `signed version digest ${String(mv.manifestDigest).slice(0, 64)} is not ${subject.digest}`,
    );
  }
  return done();
}

/**
 * Checks `bundle` against `publicKey` and a version digest alone, without the files: the
 * envelope must verify and the statement must record exactly `digest` as the version
 * digest (`predicate.modelvault.manifestDigest`, which `signVersion` always writes; the
 * digest covers every file's path, size and hash). A bundle made elsewhere without that
 * field fails: check it with `checkBundle` and the files instead.
 */
export function checkBundleDigest(
  bundle: unknown,
  publicKey: KeyObject,
  digest: string,
): BundleCheck {
  const keyId = keyIdOf(publicKey);
  const problems: string[] = [];
  const done = () => ({ ok: problems.length === 0, keyId, problems });
  const statement = openEnvelope(bundle, publicKey, keyId, problems);
  if (!statement) return done();
  const predicate = obj(statement.predicate);
  const signed = obj(predicate?.modelvault)?.manifestDigest;
  if (signed === undefined) problems.push('the statement does not record a version digest');
  else if (signed !== digest) {
    problems.push(`signed version digest ${String(signed).slice(0, 64)} is not ${digest}`);
  }
  return done();
}

/** Verifies the envelope (types, hint, ed25519 signature); the statement, or undefined. */
function openEnvelope(
  bundle: unknown,
  publicKey: KeyObject,
  keyId: string,
  problems: string[],
): Record<string, unknown> | undefined {
  const b = obj(bundle);
  const env = obj(b?.dsseEnvelope);
  if (!b || !env) {
    problems.push('not a sigstore bundle with a DSSE envelope');
    return undefined;
  }
  if (b.mediaType !== BUNDLE_MEDIA_TYPE) problems.push(`media type is not ${BUNDLE_MEDIA_TYPE}`);
  const hint = obj(obj(b.verificationMaterial)?.publicKey)?.hint;
  if (hint !== undefined && hint !== keyId) {
    problems.push(`signed by key ${String(hint).slice(0, 64)}, not ${keyId}`);
  }
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    problems.push(`payload type is not ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  const sigs = Array.isArray(env.signatures) ? env.signatures : [];
  if (typeof env.payload !== 'string' || !BASE64.test(env.payload) || sigs.length === 0) {
    problems.push('envelope has no base64 payload or no signature');
    return undefined;
  }
  const payload = Buffer.from(env.payload, 'base64');
  const signed = sigs.some((s) => {
    const sig = obj(s)?.sig;
    if (typeof sig !== 'string' || !BASE64.test(sig)) return false;
    return verify(
      null,
      pae(String(env.payloadType), payload),
      publicKey,
      Buffer.from(sig, 'base64'),
    );
  });
  if (!signed) {
    problems.push('signature does not verify over the envelope');
    return undefined;
  }
  let statement: Record<string, unknown> | undefined;
  try {
    statement = obj(JSON.parse(payload.toString('utf8')));
  } catch {
    statement = undefined;
  }
  if (!statement) {
    problems.push('payload is not a JSON statement');
    return undefined;
  }
  if (statement._type !== IN_TOTO_STATEMENT_TYPE) {
    problems.push(`statement type is not ${IN_TOTO_STATEMENT_TYPE}`);
  }
  if (statement.predicateType !== MODEL_SIGNING_PREDICATE_TYPE) {
    problems.push(`predicate type is not ${MODEL_SIGNING_PREDICATE_TYPE}`);
  }
  return statement;
}

function checkRoot(
  statement: Record<string, unknown>,
  listed: readonly { digest: string }[],
  problems: string[],
): void {
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  const root = obj(obj(subjects[0])?.digest)?.sha256;
  if (
    subjects.length !== 1 ||
    root !== rootDigest(listed.filter((r) => /^[0-9a-f]{64}$/.test(r.digest)))
  ) {
    problems.push('the statement subject is not the root digest of its resources');
  }
}

/** True when `files` hash (as a manifest) to `digest`: the files are the version's. */
export function filesMatchDigest(files: readonly SignedFile[], digest: string): boolean {
  return manifestDigest(files) === digest;
}
