import { describeObjectBackendConformance } from '../../../../test/conformance/object-backend-conformance.js';
import { describeWithS3 } from '../../../../test/support/s3-server.js';
import { openS3Backend } from './open-s3-backend.js';
import { S3Backend } from './s3-backend.js';

describeWithS3('S3 backend on a real S3 server', (server) => {
  const options = (prefix: string) => ({
    bucket: server().bucket,
    prefix,
    endpoint: server().endpoint,
    region: server().region,
    credentials: server().credentials,
    // Small parts, so that the conformance suite's 20 MiB putFile is a 4-part upload.
    multipartThreshold: 5 * 1024 * 1024,
    partSize: 5 * 1024 * 1024,
  });
  const under = (
    backend: S3Backend | Awaited<ReturnType<typeof openS3Backend>>,
    prefix: string,
  ) => ({
    backend,
    cleanup: () => server().emptyPrefix(`${prefix}/`),
  });

  describeObjectBackendConformance('S3Backend', async () => {
    const prefix = server().uniquePrefix();
    return under(new S3Backend(options(prefix)), prefix);
  });
  describeObjectBackendConformance('S3Backend with retries and a limit of 2 requests', async () => {
    const prefix = server().uniquePrefix();
    return under(await openS3Backend({ ...options(prefix), concurrency: 2 }), prefix);
  });
});
