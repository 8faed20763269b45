/**
 * A version's signatures and pickle scan, addressed as `/api/v1/models/:name/versions/:v`
 * where `:v` is a number, an alias, `latest` or `sha256:<hex>`. The registry checks a
 * posted signature against the version's files before storing it (422 otherwise).
 */
import { MAX_BUNDLE_BYTES } from '../../../registry/signature-service.js';
import { field, onModel } from '../../auth/access-rule.js';
import type { App, RouteContext } from '../../context.js';
import { S } from '../../schema.js';
import { nameParam, responses } from './common.js';

const tags = ['signatures'];
const versionParams = S.object({
  name: nameParam,
  v: S.string({
    minLength: 1,
    maxLength: 200,
    description: 'version number, alias, latest or sha256:<hex>',
  }),
});

export function signatureRoutes(app: App, ctx: RouteContext): void {
  const { registry } = ctx;
  const refOf = (p: { name: string; v: string }) => `${p.name}@${p.v}`;

  app.post(
    '/api/v1/models/:name/versions/:v/signatures',
    {
      bodyLimit: MAX_BUNDLE_BYTES + 1024 * 1024,
      config: { access: onModel('EDIT', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: 'Attach a signature (a Sigstore bundle in the model-signing format)',
        description:
          "The bundle must verify with `publicKey` (ed25519, PEM) and describe exactly this version's files and digest, else 422. Signing again with the same key replaces its signature.",
        params: versionParams,
        body: S.object({
          bundle: S.unknown({ description: 'Sigstore bundle v0.3 with a DSSE envelope' }),
          publicKey: S.string({ maxLength: 4096, description: 'ed25519 public key, PEM' }),
        }),
        response: responses({ 201: S.ref('VersionSignature') }),
      },
    },
    async (req, reply) => {
      const signature = await registry.addSignature(
        refOf(req.params),
        req.body as Parameters<typeof registry.addSignature>[1],
        { actor: ctx.actor(req) },
      );
      return reply.status(201).send(signature);
    },
  );

  app.get(
    '/api/v1/models/:name/versions/:v/signatures',
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: "A version's signatures, by key id",
        params: versionParams,
        response: responses({
          200: S.object({ signatures: S.array(S.ref('VersionSignature')) }),
        }),
      },
    },
    async (req) => ({ signatures: await registry.listSignatures(refOf(req.params)) }),
  );

  app.get(
    '/api/v1/models/:name/versions/:v/scan',
    {
      config: { access: onModel('READ', (req) => field(req, 'name')) },
      schema: {
        tags,
        summary: "A version's unsafe-pickle scan (null when it was not scanned)",
        params: versionParams,
        response: responses({ 200: S.object({ scan: S.nullable(S.ref('VersionScan')) }) }),
      },
    },
    async (req) => ({ scan: await registry.getScan(refOf(req.params)) }),
  );
}
