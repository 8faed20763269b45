/**
 * Sends one webhook delivery: an HTTP POST of the JSON body, signed with HMAC-SHA256.
 * The signing scheme is the one MLflow's webhooks (and Standard Webhooks) use, so their
 * receivers' verification code works unchanged:
 *
 *   X-Modelvault-Delivery-Id: <id>        (also sent as X-MLflow-Delivery-Id)
 *   X-Modelvault-Timestamp:   <unix seconds> (X-MLflow-Timestamp)
 *   X-Modelvault-Signature:   v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>
 *                                          (X-MLflow-Signature)
 *   X-Modelvault-Event:       model_version.created …
 *
 * Redirects are not followed (a 3xx is a failed attempt): following one would let a
 * receiver bounce the server's request to an address the webhook's URL did not name.
 * The response body is not read beyond its status.
 */
import { createHmac } from 'node:crypto';

export interface SendResult {
  readonly ok: boolean;
  /** The response's status; null when there was none (refused, timed out, bad address). */
  readonly status: number | null;
  readonly error: string | null;
}

/** `v1,<base64>`: the signature header's value. */
export function webhookSignature(
  secret: string,
  deliveryId: string,
  timestamp: number,
  body: string,
): string {
  const mac = createHmac('sha256', secret).update(`${deliveryId}.${timestamp}.${body}`, 'utf8');
  return `v1,${mac.digest('base64')}`;
}

export async function sendWebhook(request: {
  readonly url: string;
  readonly secret: string;
  readonly deliveryId: string;
  readonly event: string;
  readonly body: string;
  readonly timeoutMs: number;
  /** Unix seconds; default now. */
  readonly timestamp?: number;
}): Promise<SendResult> {
  const timestamp = request.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = webhookSignature(request.secret, request.deliveryId, timestamp, request.body);
  try {
    const res = await fetch(request.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'modelvault-webhooks/1',
        'x-modelvault-delivery-id': request.deliveryId,
        'x-modelvault-timestamp': String(timestamp),
        'x-modelvault-signature': signature,
        'x-modelvault-event': request.event,
        'x-mlflow-delivery-id': request.deliveryId,
        'x-mlflow-timestamp': String(timestamp),
        'x-mlflow-signature': signature,
      },
      body: request.body,
    });
    await res.body?.cancel().catch(() => undefined);
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? null : `HTTP ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const detail = err.name === 'TimeoutError' ? 'timed out' : (err.cause?.code ?? err.message);
    return { ok: false, status: null, error: String(detail).slice(0, 500) };
  }
}
